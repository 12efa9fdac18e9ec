package io.tierkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import org.junit.jupiter.api.Test;

/** Runs the example (so that {@code mvn verify} does) and checks what it shows. */
class EmbeddingExampleTest {
    @Test
    void example_attentionOverBothTiers_matchesDenseAttention_whileBlocksMoveAndLevelsEvict() {
        EmbeddingExample.Summary s = EmbeddingExample.run(System.out, "example-hierarchical");
        assertTrue(s.maxDenseError() < 1e-5, "tiered attention differs from dense by " + s.maxDenseError());
        assertTrue(s.demotedBlocks() > 0, "some blocks went to the host tier");
        assertTrue(s.keptTokensAtEnd() < s.length(), "the policy evicted some tokens");
        assertEquals(EmbeddingExample.PROMPT + EmbeddingExample.GENERATE, s.length());
    }

    @Test
    void example_fullPolicy_keepsEveryTokenAndStillMatchesDense() {
        EmbeddingExample.Summary s = EmbeddingExample.run(System.out, "full");
        assertTrue(s.maxDenseError() < 1e-5, "tiered attention differs from dense by " + s.maxDenseError());
        assertEquals(s.length(), s.keptTokensAtEnd());
        assertTrue(s.hostBlocksAtEnd() > 0);
    }

    @Test
    void register_aNameTwice_isRefused_andTheRegisteredNameTakesOptions() {
        EmbeddingExample.registerPolicy();
        assertThrows(IllegalArgumentException.class, () -> Policies.register("example-hierarchical", o -> Policies.create("full")));
        assertThrows(IllegalArgumentException.class, () -> Policies.register("full", o -> Policies.create("full")));
        assertThrows(IllegalArgumentException.class, () -> Policies.register("a:b", o -> Policies.create("full")));
        assertTrue(Policies.create("example-hierarchical:window=16").name().contains("window=16"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Policies.create("example-hierarchical:size=3"));
        assertTrue(e.getMessage().contains("has no option 'size'"), e.getMessage());
    }
}
