package io.tierkv.cuda.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.popularity.VectorSupport;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The Java scores (Vector API when present) against the scalar oracle; the softmax against its definition. */
class AttentionScoresConformanceTest {

    @Test
    void best_matchesTheSimpleOneOnEveryCase() {
        AttentionScores<ByteBuffer> best = JavaAttentionScores.best();
        assertEquals(VectorSupport.available() ? "java-vector" : "java-simple", best.name());
        for (ScoresCase c : ScoresCase.all()) {
            int stride = c.tokens() + 3;
            float[] expected = new float[c.shape().heads() * stride];
            float[] actual = new float[c.shape().heads() * stride];
            new SimpleAttentionScores().probabilities(c.q(), c.shape(), c.pool(), c.blocks(), c.tokens(), expected, stride);
            best.probabilities(c.q(), c.shape(), c.pool(), c.blocks(), c.tokens(), actual, stride);
            ScoresCase.assertClose(expected, actual, c.shape().heads(), c.tokens(), stride, best.name() + " on " + c);
        }
    }

    @Test
    void simple_oneToken_hasProbabilityOne_andEqualKeysShareEqually() {
        ScoreShape shape = new ScoreShape(1, 1, 4, 2, 64, 0.5f);
        ByteBuffer pool = ByteBuffer.allocateDirect(2 * 64).order(java.nio.ByteOrder.nativeOrder());
        for (int i = 0; i < 32; i++) {
            pool.putFloat(i * 4, 1f); // block 0 and block 1 keys are all ones
        }
        float[] probs = new float[3];
        new SimpleAttentionScores().probabilities(new float[] {1, 2, 3, 4}, shape, pool, new int[] {1, 0}, 3, probs, 3);
        assertEquals(1f / 3, probs[0], 1e-7);
        assertEquals(1f / 3, probs[2], 1e-7);
        new SimpleAttentionScores().probabilities(new float[] {1, 2, 3, 4}, shape, pool, new int[] {1}, 1, probs, 3);
        assertEquals(1f, probs[0]);
    }

    @Test
    void softmax_isShiftInvariantAndSumsToOne() {
        float[] x = {1000f, 1001f, 999f, 1000f};
        float[] p = new float[4];
        Softmax.rows(x, 0, 1, 4, 4, p, 0);
        double e = Math.exp(1), sum = 2 + e + 1 / e;
        assertEquals(1 / sum, p[0], 1e-6);
        assertEquals(e / sum, p[1], 1e-6);
        assertEquals(p[0], p[3]);
    }

    @Test
    void check_tooFewBlocksOrOutsideThePool_namesTheValue() {
        ScoresCase c = ScoresCase.all().get(0);
        float[] probs = new float[c.shape().heads() * c.tokens()];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SimpleAttentionScores()
                .probabilities(c.q(), c.shape(), c.pool(), new int[] {0}, c.tokens(), probs, c.tokens()));
        assertTrue(e.getMessage().contains("blocks lists 1 blocks"), e.getMessage());
        int[] bad = c.blocks().clone();
        bad[0] = 1_000;
        e = assertThrows(IllegalArgumentException.class, () -> new SimpleAttentionScores()
                .probabilities(c.q(), c.shape(), c.pool(), bad, c.tokens(), probs, c.tokens()));
        assertTrue(e.getMessage().contains("blocks[0] = 1000"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ScoreShape(6, 4, 8, 16, 4096, 1f));
    }
}
