package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.TestModels;
import org.junit.jupiter.api.Test;

/** Digest mode's block digests live on the device: they are taken out of the device budget before any KV is placed. */
class DigestBudgetTest {
    private static final int PROMPT = 96;
    private static final int NEW = 20;

    private static int[] prompt(LlamaConfig c) {
        int[] prompt = new int[PROMPT];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 3 + (i * 7) % (c.vocabSize() - 3);
        }
        return prompt;
    }

    @Test
    void digests_takeWholeSlotsOutOfTheDeviceBudget_andTheirPeakFitsWhatWasSetAside() {
        LlamaConfig c = TestModels.tiny();                 // 2 layers, 2 KV heads of 8: 1 KiB slots at 8-token blocks
        try (LlamaWeights w = LlamaWeights.random(c, 5, 0.1, false)) {
            int exactBlocks;
            try (TieredSession exact = new TieredSession(w, Policies.create("hierarchical:window=4,k=4"), PROMPT, 0.25, 8, NEW, 0)) {
                exactBlocks = exact.deviceBlocks();
                assertEquals(0, exact.digestReserveBytes());
            }
            HostRead digest = HostRead.digest(1);
            try (TieredSession s = new TieredSession(w, Policies.create("hierarchical:window=4,k=4"), PROMPT, 0.25, 8, NEW, 0,
                    Double.POSITIVE_INFINITY, digest)) {
                // 15 blocks per layer for 116 tokens, 64 bytes of bfloat16 minima and maxima each, over 2 layers
                assertEquals(2 * 15 * 64, s.digestReserveBytes());
                assertEquals(exactBlocks - 2, s.deviceBlocks(), "1920 bytes of digests take 2 slots of 1 KiB");
                assertEquals(24 - 8, s.budgetTokens(), "the policy's tokens per layer shrink by the same share");
                s.generate(prompt(c), NEW, PrefillMode.PAPER, 40, Sampler.greedy(), -1, null, null);
                assertTrue(s.decoder().digestBytesPeak() > 0 && s.decoder().digestBytesPeak() <= s.digestReserveBytes(),
                        "digests at their peak, " + s.decoder().digestBytesPeak() + " bytes, within the reserve");
                assertTrue(s.tiers().stats().deviceBlocksPeak() <= s.deviceBlocks(), s.tiers().stats().summary());
            }
        }
    }

    @Test
    void aBudgetTooSmallForTheDigests_isRefusedWithWhatItNeeds() {
        LlamaConfig c = TestModels.tiny();
        try (LlamaWeights w = LlamaWeights.random(c, 5, 0.1, false)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TieredSession(w,
                    Policies.create("hierarchical"), PROMPT, 0.1, 8, NEW, 0, Double.POSITIVE_INFINITY, HostRead.digest(2)));
            assertTrue(e.getMessage().contains("cannot hold the block digests of --host-read digest:blocks=2"), e.getMessage());
        }
    }

    @Test
    void codedDigests_reserveFewerSlots_soATightBudgetFits() {
        LlamaConfig c = TestModels.tiny();                 // 2 KV heads of 8: a bfloat16 digest 64 bytes, 8-bit 48, 4-bit 32
        int room = 100;                                    // 196 tokens: 25 blocks of 8 per layer to digest
        try (LlamaWeights w = LlamaWeights.random(c, 5, 0.1, false)) {
            // 96-token prompt at 20%: 19 tokens, 2 blocks of 8 per layer, 4 slots of 1 KiB
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TieredSession(w,
                    Policies.create("hierarchical"), PROMPT, 0.2, 8, room, 0, Double.POSITIVE_INFINITY, HostRead.digest(1)));
            assertTrue(e.getMessage().contains("(4 blocks over 2 layers for 196 tokens)"), "3200 bytes of bfloat16 digests: " + e.getMessage());
            try (TieredSession s = new TieredSession(w, Policies.create("hierarchical"), PROMPT, 0.2, 8, room, 0,
                    Double.POSITIVE_INFINITY, HostRead.parse("digest:blocks=1,bits=4"))) {
                assertEquals(2 * 25 * (2 * 8 + 8 * 2), s.digestReserveBytes(), "per block and KV head 8 bytes of offset and"
                        + " scale and 16 4-bit codes");
                assertEquals(4 - 2, s.deviceBlocks(), "1600 bytes take two slots");
                assertEquals(19 - 8, s.budgetTokens(), "two slots over 2 layers: 8 tokens per layer");
                s.generate(prompt(c), NEW, PrefillMode.PAPER, 40, Sampler.greedy(), -1, null, null);
                assertTrue(s.decoder().digestBytesPeak() > 0 && s.decoder().digestBytesPeak() <= s.digestReserveBytes());
                assertTrue(s.tiers().stats().deviceBlocksPeak() <= s.deviceBlocks(), s.tiers().stats().summary());
            }
        }
    }
}
