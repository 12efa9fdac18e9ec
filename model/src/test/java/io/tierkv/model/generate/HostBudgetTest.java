package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.TestModels;
import io.tierkv.tiering.TierStats;
import org.junit.jupiter.api.Test;

/**
 * {@code --host-budget}: in tier mode an unbounded host loses nothing; a host bounded at half the device budget frees
 * the least valuable host blocks, counts them, and masks their tokens; the generation still completes.
 */
class HostBudgetTest {

    private static int[] prompt(LlamaConfig c) {
        int[] prompt = new int[96];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 3 + (i * 11) % (c.vocabSize() - 3);
        }
        return prompt;
    }

    @Test
    void tierMode_unboundedHost_keepsEveryToken_boundedHost_freesAndCountsBlocks() {
        LlamaConfig c = TestModels.tiny();
        int[] prompt = prompt(c);
        try (LlamaWeights w = LlamaWeights.random(c, 3, 0.1, false)) {
            try (TieredSession s = new TieredSession(w, Policies.create("hierarchical:window=4,k=4"), prompt.length, 0.25, 8, 20, 0)) {
                s.generate(prompt, 20, PrefillMode.PAPER, 40, Sampler.greedy(), -1, null, null);
                TierStats st = s.tiers().stats();
                assertEquals(0, st.droppedBlocks() + st.evictedBlocks(), st.summary());
                assertEquals(s.sequence().length(), s.sequence().keptTokens());
            }
            try (TieredSession s = new TieredSession(w, Policies.create("hierarchical:window=4,k=4"), prompt.length, 0.25, 8, 20, 0, 0.5)) {
                GenerationResult g = s.generate(prompt, 20, PrefillMode.PAPER, 40, Sampler.greedy(), -1, null, null);
                assertEquals(20, g.tokens().length);
                TierStats st = s.tiers().stats();
                assertTrue(st.droppedBlocks() > 0, st.summary());
                assertTrue(s.sequence().keptTokens() < s.sequence().length(), "freed blocks' tokens are no longer kept");
                assertTrue(s.sequence().committedHostBlocks() <= Math.ceil(0.5 * s.deviceBlocks()), st.summary());
            }
        }
    }

    @Test
    void negativeHostBudget_isRefused() {
        LlamaConfig c = TestModels.tiny();
        try (LlamaWeights w = LlamaWeights.random(c, 3, 0.1, false)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new TieredSession(w, Policies.create("full"), 32, 0.25, 8, 4, 0, -1));
            assertTrue(e.getMessage().contains("host budget"), e.getMessage());
        }
    }
}
