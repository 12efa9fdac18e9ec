package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link DigestMirror} (what {@code digest.cu} computes) against a straightforward reference: the bfloat16 rounding
 * brackets every value from outside, a digest is the elementwise extremes of its part's keys, no key of a block
 * scores above the block's bound, and the bound is the formula's value (double reference) to float rounding.
 */
class DigestMirrorTest {

    /** The next bfloat16 above {@code bits}' value. */
    static float nextUp(short bits) {
        int b = bits & 0xFFFF;
        if (b == 0x8000) {
            return DigestMirror.bf16((short) 1); // -0: the smallest positive
        }
        return DigestMirror.bf16((short) ((b & 0x8000) == 0 ? b + 1 : b - 1));
    }

    /** The next bfloat16 below {@code bits}' value. */
    static float nextDown(short bits) {
        int b = bits & 0xFFFF;
        if (b == 0) {
            return DigestMirror.bf16((short) 0x8001);
        }
        return DigestMirror.bf16((short) ((b & 0x8000) == 0 ? b - 1 : b + 1));
    }

    @Test
    void rounding_isOutward_andTight() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 20000; i++) {
            float x = (float) (DeviceArrays.gaussian(r) * Math.pow(10, r.nextInt(-6, 7)));
            if (i % 5 == 0) {
                x = HalfFloats.round(x, DType.BF16); // exact bfloat16 values stay exact
            }
            short down = DigestMirror.bf16Down(x);
            short up = DigestMirror.bf16Up(x);
            assertTrue(DigestMirror.bf16(down) <= x && x < nextUp(down), x + " rounded down to " + DigestMirror.bf16(down));
            assertTrue(DigestMirror.bf16(up) >= x && x > nextDown(up), x + " rounded up to " + DigestMirror.bf16(up));
            if (HalfFloats.round(x, DType.BF16) == x) {
                assertEquals(x, DigestMirror.bf16(down));
                assertEquals(x, DigestMirror.bf16(up));
            }
        }
    }

    /** A random slab of {@code capacity} dense slots and the digests of {@code n} scattered ones. */
    record Case(DigestShape s, PagedKvShape kv, float[] slab, int capacity, int[] slots, int[] indexes, short[] digests) {
        static Case random(SplittableRandom r, DType t, int heads, DigestShape s, int n, int digestCapacity) {
            PagedKvShape kv = PagedKvShape.dense(t, heads, s.kvHeads(), s.headDim(), s.blockSize());
            int capacity = n + 2;
            float[] slab = DeviceArrays.random(r, (int) (capacity * kv.slotBytes() / t.bytes()), 1, t);
            int[] slots = new int[n];
            int[] indexes = new int[n];
            for (int b = 0; b < n; b++) {
                slots[b] = (b * 5 + 1) % capacity;
                indexes[b] = digestCapacity - 1 - b;
            }
            short[] digests = new short[digestCapacity * s.stride()];
            DigestMirror.update(s, slab, kv.slotBytes() / t.bytes(), 0, capacity, slots, indexes, n, digests);
            return new Case(s, kv, slab, capacity, slots, indexes, digests);
        }

        /** Key (row t of the block, KV head g, column d) of list entry b. */
        float key(int b, int t, int g, int d) {
            return slab[(int) (slots[b] * kv.slotBytes() / kv.dtype().bytes() + kv.element(t, g, d))];
        }
    }

    @Test
    void digest_isEachPartsElementwiseExtremes_roundedOutward() {
        SplittableRandom r = new SplittableRandom(5);
        for (int parts : new int[] {1, 2, 4}) {
            DigestShape s = new DigestShape(2, 16, 8, parts);
            Case c = Case.random(r, DType.F32, 4, s, 5, 7);
            for (int b = 0; b < 5; b++) {
                for (int p = 0; p < parts; p++) {
                    for (int g = 0; g < s.kvHeads(); g++) {
                        for (int d = 0; d < s.headDim(); d++) {
                            double mn = Double.POSITIVE_INFINITY;
                            double mx = Double.NEGATIVE_INFINITY;
                            for (int t = p * s.rowsPerPart(); t < (p + 1) * s.rowsPerPart(); t++) {
                                mn = Math.min(mn, c.key(b, t, g, d));
                                mx = Math.max(mx, c.key(b, t, g, d));
                            }
                            int at = c.indexes()[b] * s.stride() + p * s.row() + g * s.headDim() + d;
                            short lo = c.digests()[at];
                            short hi = c.digests()[at + parts * s.row()];
                            String where = "block " + b + " part " + p + " head " + g + " d " + d;
                            assertTrue(DigestMirror.bf16(lo) <= mn && mn < nextUp(lo), where + ": min " + mn + " -> " + DigestMirror.bf16(lo));
                            assertTrue(DigestMirror.bf16(hi) >= mx && mx > nextDown(hi), where + ": max " + mx + " -> " + DigestMirror.bf16(hi));
                        }
                    }
                }
            }
        }
    }

    @Test
    void update_skipsSlotsAndIndexesOutOfRange() {
        DigestShape s = new DigestShape(1, 8, 4, 1);
        PagedKvShape kv = PagedKvShape.dense(DType.F32, 1, 1, 8, 4);
        float[] slab = DeviceArrays.random(new SplittableRandom(1), (int) (3 * kv.slotBytes() / 4), 1, DType.F32);
        short[] digests = new short[2 * s.stride()];
        Arrays.fill(digests, (short) 0x1234);
        DigestMirror.update(s, slab, kv.slotBytes() / 4, 0, 3, new int[] {-1, 3, 0, 1}, new int[] {0, 1, 2, -1}, 4, digests);
        for (short v : digests) {
            assertEquals((short) 0x1234, v, "nothing written");
        }
    }

    @Test
    void noKeyScoresAboveItsBlocksBound_gqa_parts_f32AndBf16() {
        SplittableRandom r = new SplittableRandom(7);
        for (DType t : new DType[] {DType.F32, DType.BF16}) {
            for (int parts : new int[] {1, 2}) {
                int heads = 8;
                DigestShape s = new DigestShape(2, 32, 16, parts);
                int n = 9;
                Case c = Case.random(r, t, heads, s, n, n + 1);
                float[] q = DeviceArrays.random(r, heads * s.headDim(), 1, DType.F32);
                float scale = (float) (1 / Math.sqrt(s.headDim()));
                float[] bound = new float[n * heads];
                DigestMirror.bound(s, q, heads, scale, c.digests(), c.indexes(), n, bound);
                int group = heads / s.kvHeads();
                for (int b = 0; b < n; b++) {
                    for (int h = 0; h < heads; h++) {
                        // the formula in double, from the digest
                        double ref = Double.NEGATIVE_INFINITY;
                        double mag = 0;
                        for (int p = 0; p < parts; p++) {
                            double sum = 0;
                            for (int d = 0; d < s.headDim(); d++) {
                                int at = c.indexes()[b] * s.stride() + p * s.row() + (h / group) * s.headDim() + d;
                                double qd = q[h * s.headDim() + d];
                                double term = Math.max(qd * DigestMirror.bf16(c.digests()[at]), qd * DigestMirror.bf16(c.digests()[at + parts * s.row()]));
                                sum += term;
                                mag += Math.abs(term);
                            }
                            ref = Math.max(ref, sum);
                        }
                        ref *= scale;
                        double tol = 1e-5 * Math.max(1, mag * scale);
                        float got = bound[b * heads + h];
                        assertEquals(ref, got, tol, t + " parts " + parts + " block " + b + " head " + h);
                        for (int k = 0; k < s.blockSize(); k++) {
                            double score = 0;
                            for (int d = 0; d < s.headDim(); d++) {
                                score += (double) q[h * s.headDim() + d] * c.key(b, k, h / group, d);
                            }
                            score *= scale;
                            assertTrue(score <= got + tol, t + " block " + b + " head " + h + " key " + k + ": score " + score + " > bound " + got);
                        }
                    }
                }
            }
        }
    }

    @Test
    void bound_ofOneKeyPerPart_isTheBestKeysScore_forBf16Keys() {
        SplittableRandom r = new SplittableRandom(11);
        DigestShape s = new DigestShape(1, 24, 4, 4); // every part one key: the box is a point, exact in bfloat16
        Case c = Case.random(r, DType.BF16, 2, s, 3, 3);
        float[] q = DeviceArrays.random(r, 2 * s.headDim(), 1, DType.F32);
        float[] bound = new float[3 * 2];
        DigestMirror.bound(s, q, 2, 1f, c.digests(), c.indexes(), 3, bound);
        for (int b = 0; b < 3; b++) {
            for (int h = 0; h < 2; h++) {
                double best = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < s.blockSize(); k++) {
                    double score = 0;
                    for (int d = 0; d < s.headDim(); d++) {
                        score += (double) q[h * s.headDim() + d] * c.key(b, k, 0, d);
                    }
                    best = Math.max(best, score);
                }
                assertEquals(best, bound[b * 2 + h], 1e-5 * s.headDim(), "block " + b + " head " + h);
            }
        }
    }

    @Test
    void bound_isInfinite_forAnIndexWithoutADigest() {
        DigestShape s = new DigestShape(1, 8, 2, 1);
        short[] digests = new short[2 * s.stride()];
        float[] out = new float[3];
        DigestMirror.bound(s, new float[8], 1, 1f, digests, new int[] {-1, 0, 2}, 3, out);
        assertEquals(Float.POSITIVE_INFINITY, out[0]);
        assertEquals(0f, out[1]);
        assertEquals(Float.POSITIVE_INFINITY, out[2]);
    }

    @Test
    void rank_sumsEachHeadsWeightRelativeToItsBest() {
        float[] bounds = {1f, 5f, /* block 1 */ 3f, 2f, /* block 2 */ 0f, 0f};
        float[] rank = new float[3];
        DigestMirror.rank(bounds, 3, 2, rank);
        assertEquals(Math.exp(1 - 3) + Math.exp(5 - 5), rank[0], 1e-6);
        assertEquals(Math.exp(0) + Math.exp(2 - 5), rank[1], 1e-6);
        assertEquals(Math.exp(-3) + Math.exp(-5), rank[2], 1e-6);
        bounds[4] = Float.POSITIVE_INFINITY; // block 2 has no digest on head 0
        DigestMirror.rank(bounds, 3, 2, rank);
        assertEquals(Float.POSITIVE_INFINITY, rank[2], "no digest: must be read");
        assertEquals(Math.exp(0), rank[0], 1e-6, "head 0's best is now infinite: the others weigh 0 there (as the host selector)");
    }

    @Test
    void shape_refusesHeadDimsAndPartsTheKernelsCannotTake() {
        assertThrows(IllegalArgumentException.class, () -> new DigestShape(2, 20, 16, 1), "headDim not a multiple of 8");
        assertThrows(IllegalArgumentException.class, () -> new DigestShape(2, 64, 16, 3), "parts not dividing the block");
        assertThrows(IllegalArgumentException.class, () -> new DigestShape(0, 64, 16, 1));
        DigestShape s = new DigestShape(8, 128, 16, 2);
        assertEquals(2 * 2 * 8 * 128, s.stride());
        assertEquals(2L * s.stride(), s.bytesPerBlock());
        assertEquals(8, s.rowsPerPart());
    }
}
