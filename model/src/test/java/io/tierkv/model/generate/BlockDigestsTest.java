package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.cuda.ops.DigestMirror;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/** The digest's bound against every key's true score. */
class BlockDigestsTest {
    static final int HEADS = 4;
    static final int KV_HEADS = 2;
    static final int DIM = 8;
    static final int BLOCK = 16;

    @Test
    void bound_isAtLeastEveryKeysScore_andReachedByOneKeyBlock() {
        SplittableRandom rnd = new SplittableRandom(5);
        BlockDigests digests = new BlockDigests(1, KV_HEADS, DIM, BLOCK);
        float[] keys = new float[BLOCK * KV_HEADS * DIM];               // (B, K, d)
        for (int i = 0; i < keys.length; i++) {
            keys[i] = (float) rnd.nextGaussian();
        }
        try (FloatPointer p = new FloatPointer(keys)) {
            digests.update(0, 3, p.address());
        }
        float[] q = new float[HEADS * DIM];
        float[] bound = new float[HEADS];
        for (int trial = 0; trial < 50; trial++) {
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) rnd.nextGaussian();
            }
            digests.bound(0, 3, q, HEADS, 1f, bound);
            for (int h = 0; h < HEADS; h++) {
                int kh = h / (HEADS / KV_HEADS);
                for (int r = 0; r < BLOCK; r++) {
                    float s = 0;
                    for (int d = 0; d < DIM; d++) {
                        s += q[h * DIM + d] * keys[(r * KV_HEADS + kh) * DIM + d];
                    }
                    assertTrue(s <= bound[h] + 1e-4, "head " + h + " key " + r + ": score " + s + " above bound " + bound[h]);
                }
            }
        }
        // A block of one repeated key: the bound is that key's score.
        float[] same = new float[keys.length];
        for (int r = 0; r < BLOCK; r++) {
            System.arraycopy(keys, 0, same, r * KV_HEADS * DIM, KV_HEADS * DIM);
        }
        try (FloatPointer p = new FloatPointer(same)) {
            digests.update(0, 0, p.address());
        }
        digests.bound(0, 0, q, HEADS, 1f, bound);
        float s = 0;
        float magnitude = 0;
        for (int d = 0; d < DIM; d++) {
            s += q[d] * keys[d];
            magnitude += Math.abs(q[d] * keys[d]);
        }
        // bfloat16 rounding outward loosens each term by at most 2^-7 of it (one ulp of an 8-bit significand)
        assertTrue(bound[0] >= s - 1e-5 && bound[0] <= s + magnitude / 128, "bound " + bound[0] + " vs the key's " + s);
    }

    @Test
    void subBlockDigests_boundNoLooser_andStillAboveEveryKey() {
        SplittableRandom rnd = new SplittableRandom(9);
        float[] keys = new float[BLOCK * KV_HEADS * DIM];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = (float) rnd.nextGaussian();
        }
        BlockDigests whole = new BlockDigests(1, KV_HEADS, DIM, BLOCK);
        BlockDigests halves = new BlockDigests(1, KV_HEADS, DIM, BLOCK, 2);
        try (FloatPointer p = new FloatPointer(keys)) {
            whole.update(0, 0, p.address());
            halves.update(0, 0, p.address());
        }
        assertEquals(2 * whole.bytesPerBlock(), halves.bytesPerBlock());
        float[] q = new float[HEADS * DIM];
        float[] a = new float[HEADS];
        float[] b = new float[HEADS];
        boolean tighter = false;
        for (int trial = 0; trial < 50; trial++) {
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) rnd.nextGaussian();
            }
            whole.bound(0, 0, q, HEADS, 1f, a);
            halves.bound(0, 0, q, HEADS, 1f, b);
            for (int h = 0; h < HEADS; h++) {
                assertTrue(b[h] <= a[h] + 1e-4, "halves' bound " + b[h] + " above the whole block's " + a[h]);
                tighter |= b[h] < a[h] - 1e-3;
                int kh = h / (HEADS / KV_HEADS);
                for (int r = 0; r < BLOCK; r++) {
                    float s = 0;
                    for (int d = 0; d < DIM; d++) {
                        s += q[h * DIM + d] * keys[(r * KV_HEADS + kh) * DIM + d];
                    }
                    assertTrue(s <= b[h] + 1e-4, "key " + r + " above the halves' bound");
                }
            }
        }
        assertTrue(tighter, "on random keys, halves must be strictly tighter somewhere");
    }

    @Test
    void bfloat16RoundingOutward_bracketsEveryFloat_withinOneUlp() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int i = 0; i < 100_000; i++) {
            float x = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-6, 7)));
            float down = DigestMirror.bf16(DigestMirror.bf16Down(x));
            float up = DigestMirror.bf16(DigestMirror.bf16Up(x));
            assertTrue(down <= x && x <= up, x + " not in [" + down + ", " + up + "]");
            assertTrue(up - down <= Math.ulp(x) * 65536f * 1.0001f, x + ": [" + down + ", " + up + "] wider than one bfloat16 ulp");
            if (down == up) {
                assertEquals(x, down, "only an exact bfloat16 rounds to itself both ways");
            }
        }
        assertEquals(0f, DigestMirror.bf16(DigestMirror.bf16Down(0f)));
        assertEquals(-1f, DigestMirror.bf16(DigestMirror.bf16Up(-1f)));
    }

    @Test
    void retain_forgetsFreedBlocks_andBytesFollow() {
        BlockDigests digests = new BlockDigests(2, KV_HEADS, DIM, BLOCK);
        try (FloatPointer p = new FloatPointer(new float[BLOCK * KV_HEADS * DIM])) {
            for (int b = 0; b < 3; b++) {
                digests.update(0, b, p.address());
                digests.update(1, b, p.address());
            }
        }
        assertEquals(6 * 2L * KV_HEADS * DIM * 2, digests.bytes(), "six digests of bfloat16 minima and maxima");
        digests.retain(0, new int[] {0}, 1, new int[] {2}, 1);          // block 1 of layer 0 was freed
        assertFalse(digests.has(0, 1));
        assertTrue(digests.has(0, 2) && digests.has(1, 1));
        assertEquals(5 * digests.bytesPerBlock(), digests.bytes());
        assertEquals(6 * digests.bytesPerBlock(), digests.peakBytes());
    }

    /** Scores of every key of a (B, K, d) block for query head {@code h}. */
    private static float maxScore(float[] keys, float[] q, int h) {
        int kh = h / (HEADS / KV_HEADS);
        float best = Float.NEGATIVE_INFINITY;
        for (int r = 0; r < BLOCK; r++) {
            float s = 0;
            for (int d = 0; d < DIM; d++) {
                s += q[h * DIM + d] * keys[(r * KV_HEADS + kh) * DIM + d];
            }
            best = Math.max(best, s);
        }
        return best;
    }

    @Test
    void codedDigests_boundAtLeastTheTrueMaxScore_onRandomBlocks_andLooseByAtMostOneStepPerTerm() {
        SplittableRandom rnd = new SplittableRandom(17);
        for (int bits : new int[] {8, 4}) {
            for (int parts : new int[] {1, 2}) {
                BlockDigests coded = new BlockDigests(1, KV_HEADS, DIM, BLOCK, parts, bits);
                BlockDigests exactBox = new BlockDigests(1, KV_HEADS, DIM, BLOCK, parts);
                float[] q = new float[HEADS * DIM];
                float[] bound = new float[HEADS];
                float[] box = new float[HEADS];
                for (int block = 0; block < 40; block++) {
                    float[] keys = new float[BLOCK * KV_HEADS * DIM];
                    double spread = Math.pow(10, rnd.nextInt(-3, 3));
                    double shift = rnd.nextGaussian() * spread * 4;
                    for (int i = 0; i < keys.length; i++) {
                        keys[i] = (float) (shift + rnd.nextGaussian() * spread);
                    }
                    try (FloatPointer p = new FloatPointer(keys)) {
                        coded.update(0, block, p.address());
                        exactBox.update(0, block, p.address());
                    }
                    for (int trial = 0; trial < 20; trial++) {
                        for (int i = 0; i < q.length; i++) {
                            q[i] = (float) rnd.nextGaussian();
                        }
                        coded.bound(0, block, q, HEADS, 1f, bound);
                        exactBox.bound(0, block, q, HEADS, 1f, box);
                        for (int h = 0; h < HEADS; h++) {
                            float truth = maxScore(keys, q, h);
                            float tolerance = (float) (1e-5 * (1 + Math.abs(truth) + Math.abs(shift) * DIM));
                            assertTrue(bound[h] >= truth - tolerance, bits + " bits, " + parts + " parts, block " + block + " head " + h
                                    + ": bound " + bound[h] + " below the true max score " + truth);
                            // one code step (range / (2^bits - 1)) per term, the range of a head's minima and maxima
                            double range = 0;
                            double qAbs = 0;
                            for (int d = 0; d < DIM; d++) {
                                qAbs += Math.abs(q[h * DIM + d]);
                            }
                            float lo = Float.POSITIVE_INFINITY;
                            float hi = Float.NEGATIVE_INFINITY;
                            for (float k : keys) {
                                lo = Math.min(lo, k);
                                hi = Math.max(hi, k);
                            }
                            range = hi - lo;
                            double slack = qAbs * range / ((1 << bits) - 1) * 1.001 + 2 * tolerance;
                            assertTrue(bound[h] <= box[h] + slack, bits + " bits: bound " + bound[h] + " more than a step above the"
                                    + " bfloat16 box's " + box[h]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void codedDigest_ofOneRepeatedKey_boundsItsScoreClosely() {
        SplittableRandom rnd = new SplittableRandom(23);
        float[] key = new float[KV_HEADS * DIM];
        for (int i = 0; i < key.length; i++) {
            key[i] = (float) rnd.nextGaussian();
        }
        float[] keys = new float[BLOCK * KV_HEADS * DIM];
        for (int r = 0; r < BLOCK; r++) {
            System.arraycopy(key, 0, keys, r * key.length, key.length);
        }
        BlockDigests coded = new BlockDigests(1, KV_HEADS, DIM, BLOCK, 1, 8);
        try (FloatPointer p = new FloatPointer(keys)) {
            coded.update(0, 0, p.address());
        }
        float[] q = new float[HEADS * DIM];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextGaussian();
        }
        float[] bound = new float[HEADS];
        coded.bound(0, 0, q, HEADS, 1f, bound);
        float truth = maxScore(keys, q, 0);
        assertTrue(bound[0] >= truth - 1e-5 && bound[0] < truth + 0.2, "bound " + bound[0] + " vs the key's " + truth);
        for (int d = 0; d < DIM; d++) { // each stored extreme brackets the key's value
            assertTrue(coded.value(0, 0, 0, 0, 0, d) <= key[d] && key[d] <= coded.value(0, 0, 1, 0, 0, d), "dimension " + d);
        }
    }

    @Test
    void bytesPerBlock_ofCodedDigests_countsCodesAndOneOffsetAndScalePerPartAndHead() {
        // the bundled model: 4 KV heads of 32
        assertEquals(2 * 4 * 32 * 2, BlockDigests.bytesPerBlock(4, 32, 1));
        assertEquals(4 * (8 + 2 * 32), BlockDigests.bytesPerBlock(4, 32, 1, 8));          // 288 bytes: 56% of 512
        assertEquals(4 * (8 + 32), BlockDigests.bytesPerBlock(4, 32, 1, 4));              // 160 bytes
        assertEquals(4 * 4 * (8 + 32), BlockDigests.bytesPerBlock(4, 32, 4, 4));          // 640 bytes
        BlockDigests d = new BlockDigests(2, KV_HEADS, DIM, BLOCK, 2, 4);
        assertEquals(BlockDigests.bytesPerBlock(KV_HEADS, DIM, 2, 4), d.bytesPerBlock());
    }

    /** Random keys of {@code spread} around {@code shift}: (B, K, d). */
    private static float[] randomKeys(SplittableRandom rnd, double spread, double shift) {
        float[] keys = new float[BLOCK * KV_HEADS * DIM];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = (float) (shift + rnd.nextGaussian() * spread);
        }
        return keys;
    }

    private static void update(BlockDigests digests, int block, float[] keys) {
        try (FloatPointer p = new FloatPointer(keys)) {
            digests.update(0, block, p.address());
        }
    }

    @Test
    void sketch_estimatesTheBestScore_withinHalfAStepPerTerm_closerWithMoreBits() {
        SplittableRandom rnd = new SplittableRandom(31);
        for (int boxBits : new int[] {16, 4}) {
            double previousError = Double.POSITIVE_INFINITY;
            for (int sketch : new int[] {1, 2, 4}) {
                BlockDigests digests = new BlockDigests(1, KV_HEADS, DIM, BLOCK, 1, boxBits, sketch);
                assertEquals(sketch, digests.sketch());
                int levels = (1 << sketch) - 1;
                double error = 0;
                int n = 0;
                float[] q = new float[HEADS * DIM];
                float[] score = new float[HEADS];
                for (int block = 0; block < 30; block++) {
                    float[] keys = randomKeys(rnd, Math.pow(10, rnd.nextInt(-2, 2)), rnd.nextGaussian());
                    update(digests, block, keys);
                    for (int trial = 0; trial < 10; trial++) {
                        for (int i = 0; i < q.length; i++) {
                            q[i] = (float) rnd.nextGaussian();
                        }
                        digests.score(0, block, q, HEADS, 1f, score);
                        for (int h = 0; h < HEADS; h++) {
                            int kh = h / (HEADS / KV_HEADS);
                            double slack = 1e-4;
                            for (int d = 0; d < DIM; d++) { // half a step of the box as stored, per term
                                double step = (digests.value(0, block, 1, 0, kh, d) - digests.value(0, block, 0, 0, kh, d)) / levels;
                                slack += Math.abs(q[h * DIM + d]) * step / 2 * 1.0001;
                            }
                            float truth = maxScore(keys, q, h);
                            assertTrue(Math.abs(score[h] - truth) <= slack, boxBits + "-bit box, " + sketch + "-bit sketch, block " + block
                                    + " head " + h + ": estimate " + score[h] + " vs " + truth + ", more than half a step per term");
                            error += Math.abs(score[h] - truth) / (slack + Math.abs(truth));
                            n++;
                        }
                    }
                }
                assertTrue(error / n < previousError, sketch + " bits: mean relative error " + error / n + " not below " + previousError);
                previousError = error / n;
            }
        }
    }

    @Test
    void sketch_ranksTheBlockWhoseKeyScores_aboveTheBlockWhoseBoxIsWide() {
        // The bundled model's head size: a box's bound grows with |q|_1 (~d), a key's score with |q|_2 (~sqrt d).
        int dim = 32;
        SplittableRandom rnd = new SplittableRandom(37);
        float[] q = new float[dim];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextGaussian();
        }
        double norm = 0;
        for (float v : q) {
            norm += v * v;
        }
        norm = Math.sqrt(norm);
        // Block 0: wide random keys, none aligned with the query; its box reaches far in every dimension.
        // Block 1: small keys, but one along the query (score 1.5 |q|, about twice the wide block's best).
        float[] wide = new float[BLOCK * dim];
        float[] aligned = new float[BLOCK * dim];
        for (int i = 0; i < wide.length; i++) {
            wide[i] = (float) (0.4 * rnd.nextGaussian());
            aligned[i] = (float) (0.05 * rnd.nextGaussian());
        }
        for (int d = 0; d < dim; d++) {
            aligned[5 * dim + d] = (float) (1.5 * q[d] / norm);
        }
        BlockDigests box = new BlockDigests(1, 1, dim, BLOCK, 1, 16);
        BlockDigests sketched = new BlockDigests(1, 1, dim, BLOCK, 1, 16, 2);
        float[][] bound = new float[2][1];
        float[][] estimate = new float[2][1];
        float[] best = new float[2];
        for (int b = 0; b < 2; b++) {
            float[] keys = b == 0 ? wide : aligned;
            try (FloatPointer p = new FloatPointer(keys)) {
                box.update(0, b, p.address());
                sketched.update(0, b, p.address());
            }
            box.score(0, b, q, 1, 1f, bound[b]);
            sketched.score(0, b, q, 1, 1f, estimate[b]);
            best[b] = Float.NEGATIVE_INFINITY;
            for (int r = 0; r < BLOCK; r++) {
                float s = 0;
                for (int d = 0; d < dim; d++) {
                    s += q[d] * keys[r * dim + d];
                }
                best[b] = Math.max(best[b], s);
            }
        }
        assertTrue(best[1] > best[0], "the aligned key scores highest: " + best[1] + " vs " + best[0]);
        assertTrue(bound[0][0] > bound[1][0], "the box bounds the wide block higher: " + bound[0][0] + " vs " + bound[1][0]);
        assertTrue(estimate[1][0] > estimate[0][0], "the sketch ranks the aligned block first: " + estimate[1][0] + " vs " + estimate[0][0]);
    }

    @Test
    void sketch_ofARewrittenBlock_isThatOfItsNewKeys_andItsBytesAreCounted() {
        SplittableRandom rnd = new SplittableRandom(41);
        float[] first = randomKeys(rnd, 1, 0);
        float[] second = randomKeys(rnd, 1, 0);
        BlockDigests reused = new BlockDigests(1, KV_HEADS, DIM, BLOCK, 1, 4, 2);
        BlockDigests fresh = new BlockDigests(1, KV_HEADS, DIM, BLOCK, 1, 4, 2);
        update(reused, 2, first);
        update(reused, 2, second);
        update(fresh, 2, second);
        float[] q = new float[HEADS * DIM];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextGaussian();
        }
        float[] a = new float[HEADS];
        float[] b = new float[HEADS];
        reused.score(0, 2, q, HEADS, 1f, a);
        fresh.score(0, 2, q, HEADS, 1f, b);
        for (int h = 0; h < HEADS; h++) {
            assertEquals(b[h], a[h], 0f, "head " + h + ": no code of the first keys left over");
        }
        assertEquals(BlockDigests.bytesPerBlock(KV_HEADS, DIM, 1, 4) + BLOCK * KV_HEADS * DIM * 2 / 8, reused.bytesPerBlock());
        assertEquals(reused.bytesPerBlock(), reused.bytes(), "one live block");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BlockDigests(1, KV_HEADS, DIM, BLOCK, 2, 16, 2))
                .getMessage().contains("parts must be 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BlockDigests(1, KV_HEADS, DIM, BLOCK, 1, 16, 3))
                .getMessage().contains("1, 2 or 4 bits"));
    }
}
