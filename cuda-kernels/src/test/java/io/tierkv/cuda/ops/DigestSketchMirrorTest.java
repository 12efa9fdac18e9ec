package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link DigestMirror}'s digests of codes with a sketch ({@code updateSketch}, {@code score}: what {@code digest.cu}'s
 * sketch kernels compute) and its exact score ({@code exact}), against the spec written out again here and against what
 * the codes must guarantee: the box codes bracket each column's extremes from outside and are the tightest that do, every
 * sketch code is within half a step of its key, keys on the code grid score exactly {@code q . k}, an estimate is within
 * half a step per term of the true best score; {@code exact} against a brute-force dot product. Also {@link DigestShape}'s
 * rules and sizes.
 */
class DigestSketchMirrorTest {

    // ---- DigestShape ----

    @Test
    void shape_sizesOfTheBundledModel_andTheRawFormula() {
        DigestShape s2 = new DigestShape(4, 32, 16, 1, 4, 2);
        assertEquals(672, s2.bytesPerBlock(), "K 4, d 32, B 16, 4 bits, 2-bit sketch");
        assertEquals(672, s2.rawBytesPerBlock());
        DigestShape s1 = new DigestShape(4, 32, 16, 1, 4, 1);
        assertEquals(416, s1.bytesPerBlock(), "1-bit sketch");
        for (int bits : new int[] {8, 4}) {
            for (int sketch : new int[] {1, 2, 4}) {
                for (int[] g : new int[][] {{4, 32, 16}, {8, 128, 16}, {1, 8, 4}, {3, 24, 5}, {2, 64, 32}}) {
                    DigestShape s = new DigestShape(g[0], g[1], g[2], 1, bits, sketch);
                    // model's BlockDigests.bytesPerBlock(K, d, 1, bits, sketch, B): 2 K d bits / 8 + 8 K + B K d sketch / 8
                    long raw = 2L * g[0] * g[1] * bits / 8 + 8L * g[0] + (long) g[2] * g[0] * g[1] * sketch / 8;
                    assertEquals(raw, s.rawBytesPerBlock(), s.toString());
                    assertEquals((raw + 15) / 16 * 16, s.bytesPerBlock(), s.toString());
                    assertEquals(8L * g[0] + s.boxCodeBytes() + s.sketchBytes(), s.rawBytesPerBlock());
                    assertTrue(s.codes());
                    assertThrows(IllegalStateException.class, s::stride, "codes have no 16-bit stride");
                }
            }
        }
        DigestShape odd = new DigestShape(1, 8, 4, 1, 4, 1);
        assertEquals(8 + 8 + 4, odd.rawBytesPerBlock());
        assertEquals(32, odd.bytesPerBlock(), "padded to 16");
    }

    @Test
    void shape_fourArgumentConstructor_isTheBfloat16Digest() {
        DigestShape s = new DigestShape(8, 128, 16, 2);
        assertEquals(new DigestShape(8, 128, 16, 2, 16, 0), s);
        assertEquals(16, s.bits());
        assertEquals(0, s.sketch());
        assertEquals(2 * 2 * 8 * 128, s.stride());
        assertEquals(2L * s.stride(), s.bytesPerBlock());
        assertEquals(s.bytesPerBlock(), s.rawBytesPerBlock());
        assertEquals(0, s.boxCodeBytes());
        assertEquals(0, s.sketchBytes());
    }

    static void refused(String value, org.junit.jupiter.api.function.Executable e) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(value), "the message names " + value + ": " + x.getMessage());
    }

    @Test
    void shape_refusesCombinationsTheDeviceCannotTake() {
        refused("12", () -> new DigestShape(4, 32, 16, 1, 12, 0));
        refused("sketch must be 0, was 2", () -> new DigestShape(4, 32, 16, 1, 16, 2));
        refused("sketch must be 1, 2 or 4, was 0", () -> new DigestShape(4, 32, 16, 1, 8, 0));
        refused("sketch must be 1, 2 or 4, was 3", () -> new DigestShape(4, 32, 16, 1, 4, 3));
        refused("parts must be 1, was 2", () -> new DigestShape(4, 32, 16, 2, 4, 2));
        refused("headDim", () -> new DigestShape(4, 20, 16, 1, 4, 2));
        DigestShape codes = new DigestShape(1, 8, 4, 1, 8, 1);
        refused("bits 16", () -> DigestMirror.update(codes, new float[64], 64, 0, 1, new int[] {0}, new int[] {0}, 1, new short[64]));
        DigestShape bf16 = new DigestShape(1, 8, 4, 1);
        refused("bits 8 or 4", () -> DigestMirror.updateSketch(bf16, new float[64], 64, 0, 1, new int[] {0}, new int[] {0}, 1, new byte[64]));
    }

    // ---- the spec, written out again ----

    /** One block's code digest decoded or computed per the spec: per KV head lo and step, per column codes, per key a sketch code. */
    record Digest(float[] lo, float[] step, int[] minCode, int[] maxCode, int[] sketch) {
    }

    /** The spec's update of one block from keys {@code (B, K, d)}. */
    static Digest reference(DigestShape s, float[][][] k) {
        int K = s.kvHeads();
        int d = s.headDim();
        int B = s.blockSize();
        int levels = (1 << s.bits()) - 1;
        int slevels = (1 << s.sketch()) - 1;
        float[] lo = new float[K];
        float[] step = new float[K];
        int[] cmin = new int[K * d];
        int[] cmax = new int[K * d];
        int[] sketch = new int[B * K * d];
        for (int kh = 0; kh < K; kh++) {
            float[] mn = new float[d];
            float[] mx = new float[d];
            for (int dd = 0; dd < d; dd++) {
                mn[dd] = k[0][kh][dd];
                mx[dd] = k[0][kh][dd];
                for (int t = 1; t < B; t++) {
                    mn[dd] = Math.min(mn[dd], k[t][kh][dd]);
                    mx[dd] = Math.max(mx[dd], k[t][kh][dd]);
                }
            }
            float l = mn[0];
            float h = mx[0];
            for (int dd = 1; dd < d; dd++) {
                l = Math.min(l, mn[dd]);
                h = Math.max(h, mx[dd]);
            }
            float st = (h - l) / (float) levels;
            if (!(st > 0) || Float.isInfinite(st)) {
                st = h > l ? Float.MAX_VALUE / levels : 1f;
            }
            while (l + (float) levels * st < h) {
                st = Math.nextUp(st);
            }
            lo[kh] = l;
            step[kh] = st;
            for (int dd = 0; dd < d; dd++) {
                int c = (int) Math.floor((mn[dd] - l) / st);
                c = Math.max(0, Math.min(levels, c));
                while (c > 0 && l + (float) c * st > mn[dd]) {
                    c--;
                }
                cmin[kh * d + dd] = c;
                c = (int) Math.ceil((mx[dd] - l) / st);
                c = Math.max(0, Math.min(levels, c));
                while (c < levels && l + (float) c * st < mx[dd]) {
                    c++;
                }
                cmax[kh * d + dd] = c;
                float f = l + (float) cmin[kh * d + dd] * st;
                float u = (l + (float) cmax[kh * d + dd] * st - f) / (float) slevels;
                for (int t = 0; t < B; t++) {
                    int sc = u > 0 ? (int) Math.rint((k[t][kh][dd] - f) / u) : 0;
                    sketch[(t * K + kh) * d + dd] = Math.max(0, Math.min(slevels, sc));
                }
            }
        }
        return new Digest(lo, step, cmin, cmax, sketch);
    }

    /** Digest {@code index} of {@code bytes} decoded per the layout of {@link DigestShape}'s documentation. */
    static Digest decode(DigestShape s, byte[] bytes, int index) {
        int K = s.kvHeads();
        int d = s.headDim();
        int B = s.blockSize();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int base = (int) (index * s.bytesPerBlock());
        float[] lo = new float[K];
        float[] step = new float[K];
        for (int kh = 0; kh < K; kh++) {
            lo[kh] = b.getFloat(base + 8 * kh);
            step[kh] = b.getFloat(base + 8 * kh + 4);
        }
        int box = base + 8 * K;
        int[] values = new int[2 * K * d];
        for (int i = 0; i < values.length; i++) {
            values[i] = s.bits() == 8 ? bytes[box + i] & 0xFF : i % 2 == 0 ? bytes[box + i / 2] & 0xF : (bytes[box + i / 2] & 0xF0) >> 4;
        }
        int sk = box + 2 * K * d * s.bits() / 8;
        int per = 8 / s.sketch();
        int[] sketch = new int[B * K * d];
        for (int i = 0; i < sketch.length; i++) {
            sketch[i] = ((bytes[sk + i / per] & 0xFF) >>> (i % per * s.sketch())) & ((1 << s.sketch()) - 1);
        }
        return new Digest(lo, step, Arrays.copyOf(values, K * d), Arrays.copyOfRange(values, K * d, 2 * K * d), sketch);
    }

    /** A dense slab of random keys of {@code dtype} and the keys of slot {@code slot} as {@code [B][K][d]}. */
    record Slab(PagedKvShape kv, float[] values, int capacity) {
        static Slab random(SplittableRandom r, DType t, int heads, DigestShape s, int capacity, double sigma) {
            PagedKvShape kv = PagedKvShape.dense(t, heads, s.kvHeads(), s.headDim(), s.blockSize());
            return new Slab(kv, DeviceArrays.random(r, (int) (capacity * kv.slotBytes() / t.bytes()), sigma, t), capacity);
        }

        long slotElements() {
            return kv.slotBytes() / kv.dtype().bytes();
        }

        float[][][] keys(int slot) {
            float[][][] k = new float[kv.blockSize()][kv.kvHeads()][kv.headDim()];
            for (int t = 0; t < kv.blockSize(); t++) {
                for (int g = 0; g < kv.kvHeads(); g++) {
                    for (int d = 0; d < kv.headDim(); d++) {
                        k[t][g][d] = values[(int) (slot * slotElements() + kv.element(t, g, d))];
                    }
                }
            }
            return k;
        }

        void set(int slot, int t, int g, int d, float v) {
            values[(int) (slot * slotElements() + kv.element(t, g, d))] = v;
        }
    }

    static final int[][] CODE_KINDS = {{8, 1}, {8, 2}, {8, 4}, {4, 1}, {4, 2}, {4, 4}};

    @Test
    void updateSketch_isTheSpec_byteLayoutAndAllValues_everyKind_f32F16Bf16() {
        SplittableRandom r = new SplittableRandom(17);
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            for (int[] kind : CODE_KINDS) {
                for (int[] g : new int[][] {{4, 32, 16}, {2, 16, 8}, {1, 8, 5}, {3, 24, 16}}) {
                    DigestShape s = new DigestShape(g[0], g[1], g[2], 1, kind[0], kind[1]);
                    String what = t + " " + s;
                    int n = 5;
                    int digestCapacity = n + 2;
                    Slab slab = Slab.random(r, t, g[0], s, n + 1, r.nextInt(3) == 0 ? 40 : 1);
                    int[] slots = {3, 0, 5, 1, 2};
                    int[] indexes = {6, 2, 0, 4, 1};
                    byte[] digests = new byte[(int) (digestCapacity * s.bytesPerBlock())];
                    Arrays.fill(digests, (byte) 0x5A);
                    DigestMirror.updateSketch(s, slab.values(), slab.slotElements(), 0, slab.capacity(), slots, indexes, n, digests);
                    for (int b = 0; b < n; b++) {
                        Digest want = reference(s, slab.keys(slots[b]));
                        Digest got = decode(s, digests, indexes[b]);
                        String at = what + " entry " + b;
                        assertTrue(Arrays.equals(want.lo(), got.lo()), at + ": lo");
                        assertTrue(Arrays.equals(want.step(), got.step()), at + ": step");
                        assertTrue(Arrays.equals(want.minCode(), got.minCode()), at + ": minimum codes");
                        assertTrue(Arrays.equals(want.maxCode(), got.maxCode()), at + ": maximum codes");
                        assertTrue(Arrays.equals(want.sketch(), got.sketch()), at + ": sketch codes");
                        int base = (int) (indexes[b] * s.bytesPerBlock());
                        for (int i = (int) s.rawBytesPerBlock(); i < s.bytesPerBlock(); i++) {
                            assertEquals(0, digests[base + i], at + ": padding byte " + i);
                        }
                    }
                    for (int index : new int[] {3, 5}) { // not listed: untouched
                        for (int i = 0; i < s.bytesPerBlock(); i++) {
                            assertEquals((byte) 0x5A, digests[(int) (index * s.bytesPerBlock() + i)], what + ": digest " + index + " untouched");
                        }
                    }
                }
            }
        }
    }

    @Test
    void boxCodes_bracketEachColumnsExtremes_tightly_andSketchCodesAreWithinHalfAStep() {
        SplittableRandom r = new SplittableRandom(19);
        for (int[] kind : CODE_KINDS) {
            DigestShape s = new DigestShape(4, 32, 16, 1, kind[0], kind[1]);
            int n = 6;
            Slab slab = Slab.random(r, DType.F32, 8, s, n, 1);
            int[] ids = {0, 1, 2, 3, 4, 5};
            byte[] digests = new byte[(int) (n * s.bytesPerBlock())];
            DigestMirror.updateSketch(s, slab.values(), slab.slotElements(), 0, n, ids, ids, n, digests);
            int levels = (1 << s.bits()) - 1;
            int slevels = (1 << s.sketch()) - 1;
            for (int b = 0; b < n; b++) {
                float[][][] k = slab.keys(b);
                Digest dg = decode(s, digests, b);
                for (int kh = 0; kh < s.kvHeads(); kh++) {
                    float lo = dg.lo()[kh];
                    float st = dg.step()[kh];
                    assertTrue(st > 0, "step");
                    for (int d = 0; d < s.headDim(); d++) {
                        float mn = Float.POSITIVE_INFINITY;
                        float mx = Float.NEGATIVE_INFINITY;
                        for (int t = 0; t < s.blockSize(); t++) {
                            mn = Math.min(mn, k[t][kh][d]);
                            mx = Math.max(mx, k[t][kh][d]);
                        }
                        int cmin = dg.minCode()[kh * s.headDim() + d];
                        int cmax = dg.maxCode()[kh * s.headDim() + d];
                        String at = s + " block " + b + " head " + kh + " d " + d;
                        float vmin = lo + cmin * st;
                        float vmax = lo + cmax * st;
                        assertEquals(vmin, DigestMirror.boxValue(s, digests, b, 0, kh, d), at);
                        assertEquals(vmax, DigestMirror.boxValue(s, digests, b, 1, kh, d), at);
                        assertTrue(vmin <= mn, at + ": min code " + cmin + " -> " + vmin + " > " + mn);
                        assertTrue(vmax >= mx, at + ": max code " + cmax + " -> " + vmax + " < " + mx);
                        assertTrue(cmin == levels || lo + (cmin + 1) * st > mn, at + ": the min code is the largest below");
                        assertTrue(cmax == 0 || lo + (cmax - 1) * st < mx, at + ": the max code is the smallest above");
                        float u = (vmax - vmin) / slevels;
                        for (int t = 0; t < s.blockSize(); t++) {
                            int c = dg.sketch()[(t * s.kvHeads() + kh) * s.headDim() + d];
                            assertEquals(c, DigestMirror.sketchCode(s, digests, b, t, kh, d));
                            double err = Math.abs(vmin + (double) c * u - k[t][kh][d]);
                            assertTrue(err <= u / 2 * (1 + 1e-5) + 1e-7, at + " row " + t + ": key " + k[t][kh][d] + " coded " + c
                                    + " (floor " + vmin + ", step " + u + ")");
                        }
                    }
                }
            }
        }
    }

    @Test
    void aConstantBlock_hasStepOne_zeroSketch_andScoresItsKeyExactly() {
        DigestShape s = new DigestShape(1, 8, 4, 1, 4, 2);
        Slab slab = Slab.random(new SplittableRandom(23), DType.F32, 2, s, 1, 1);
        Arrays.fill(slab.values(), 0.75f);
        byte[] digests = new byte[(int) s.bytesPerBlock()];
        DigestMirror.updateSketch(s, slab.values(), slab.slotElements(), 0, 1, new int[] {0}, new int[] {0}, 1, digests);
        Digest dg = decode(s, digests, 0);
        assertEquals(0.75f, dg.lo()[0]);
        assertEquals(1f, dg.step()[0], "hi == lo: step 1");
        assertTrue(Arrays.stream(dg.minCode()).allMatch(c -> c == 0));
        assertTrue(Arrays.stream(dg.maxCode()).allMatch(c -> c == 0));
        assertTrue(Arrays.stream(dg.sketch()).allMatch(c -> c == 0));
        float[] q = {1, -2, 0.5f, 3, -1, 0.25f, 2, -0.5f, /* head 1 */ 0, 0, 0, 0, 0, 0, 0, 1};
        float[] out = new float[2];
        DigestMirror.score(s, q, 2, 0.5f, digests, new int[] {0}, 1, out);
        float dot = 0;
        for (int d = 0; d < 8; d++) {
            dot += q[d] * 0.75f;
        }
        assertEquals(dot * 0.5f, out[0]);
        assertEquals(0.75f * 0.5f, out[1]);
    }

    /** Keys that are integers 0 .. 15 (bits 4: lo 0, step 1) with every column's minimum 0 and maximum 15. */
    static float[][][] gridKeys(SplittableRandom r, Slab slab, int slot, int spacing) {
        PagedKvShape kv = slab.kv();
        for (int t = 0; t < kv.blockSize(); t++) {
            for (int g = 0; g < kv.kvHeads(); g++) {
                for (int d = 0; d < kv.headDim(); d++) {
                    float v = t == 0 ? 0 : t == 1 ? 15 : spacing * r.nextInt(15 / spacing + 1);
                    slab.set(slot, t, g, d, v);
                }
            }
        }
        return slab.keys(slot);
    }

    @Test
    void keysOnTheCodeGrid_scoreExactly_qDotK() {
        SplittableRandom r = new SplittableRandom(29);
        // 4-bit box over [0, 15]: step 1; a 4-bit sketch then has step 1 (codes = keys), a 1-bit sketch step 15 (keys 0 or 15)
        for (int[] kind : new int[][] {{4, 4, 1}, {4, 1, 15}}) {
            DigestShape s = new DigestShape(2, 16, 8, 1, kind[0], kind[1]);
            int heads = 6;
            int n = 3;
            Slab slab = Slab.random(r, DType.F32, heads, s, n, 1);
            float[][][][] keys = new float[n][][][];
            for (int b = 0; b < n; b++) {
                keys[b] = gridKeys(r, slab, b, kind[2]);
            }
            int[] ids = {0, 1, 2};
            byte[] digests = new byte[(int) (n * s.bytesPerBlock())];
            DigestMirror.updateSketch(s, slab.values(), slab.slotElements(), 0, n, ids, ids, n, digests);
            float[] q = DeviceArrays.random(r, heads * s.headDim(), 1, DType.F32);
            float scale = 0.25f;
            float[] out = new float[n * heads];
            DigestMirror.score(s, q, heads, scale, digests, new int[] {2, 0, 1}, n, out);
            int[] order = {2, 0, 1};
            for (int b = 0; b < n; b++) {
                for (int h = 0; h < heads; h++) {
                    int kh = h / (heads / s.kvHeads());
                    float best = Float.NEGATIVE_INFINITY;
                    for (int t = 0; t < s.blockSize(); t++) {
                        float dot = 0;
                        for (int d = 0; d < s.headDim(); d++) {
                            dot += q[h * s.headDim() + d] * keys[order[b]][t][kh][d];
                        }
                        best = Math.max(best, dot);
                    }
                    assertEquals(best * scale, out[b * heads + h], "sketch " + kind[1] + " entry " + b + " head " + h);
                }
            }
        }
    }

    @Test
    void theEstimate_isWithinHalfAStepPerTermOfTheTrueBestScore() {
        SplittableRandom r = new SplittableRandom(31);
        for (int[] kind : CODE_KINDS) {
            for (DType t : new DType[] {DType.F32, DType.BF16}) {
                DigestShape s = new DigestShape(2, 32, 16, 1, kind[0], kind[1]);
                int heads = 8;
                int n = 4;
                Slab slab = Slab.random(r, t, heads, s, n, 1);
                int[] ids = {0, 1, 2, 3};
                byte[] digests = new byte[(int) (n * s.bytesPerBlock())];
                DigestMirror.updateSketch(s, slab.values(), slab.slotElements(), 0, n, ids, ids, n, digests);
                float[] q = DeviceArrays.random(r, heads * s.headDim(), 1, DType.F32);
                float scale = (float) (1 / Math.sqrt(s.headDim()));
                float[] out = new float[n * heads];
                DigestMirror.score(s, q, heads, scale, digests, ids, n, out);
                int slevels = (1 << s.sketch()) - 1;
                for (int b = 0; b < n; b++) {
                    float[][][] k = slab.keys(b);
                    for (int h = 0; h < heads; h++) {
                        int kh = h / (heads / s.kvHeads());
                        double best = Double.NEGATIVE_INFINITY;
                        for (int row = 0; row < s.blockSize(); row++) {
                            double dot = 0;
                            for (int d = 0; d < s.headDim(); d++) {
                                dot += (double) q[h * s.headDim() + d] * k[row][kh][d];
                            }
                            best = Math.max(best, dot);
                        }
                        double slack = 0;
                        double mag = 0;
                        for (int d = 0; d < s.headDim(); d++) {
                            double u = ((double) DigestMirror.boxValue(s, digests, b, 1, kh, d) - DigestMirror.boxValue(s, digests, b, 0, kh, d))
                                    / slevels;
                            slack += Math.abs(q[h * s.headDim() + d]) * u / 2;
                            mag += Math.abs(q[h * s.headDim() + d]) * DigestMirror.boxValue(s, digests, b, 1, kh, d);
                        }
                        double tol = (slack + 1e-5 * (1 + mag)) * scale;
                        float got = out[b * heads + h];
                        assertEquals(best * scale, got, tol, t + " " + s + " entry " + b + " head " + h);
                    }
                }
            }
        }
    }

    @Test
    void score_isInfinite_forAnIndexWithoutADigest_andSkippedEntriesAreUntouched() {
        DigestShape s = new DigestShape(1, 8, 4, 1, 8, 2);
        Slab slab = Slab.random(new SplittableRandom(37), DType.F32, 2, s, 3, 1);
        byte[] digests = new byte[(int) (2 * s.bytesPerBlock())];
        Arrays.fill(digests, (byte) 0x33);
        DigestMirror.updateSketch(s, slab.values(), slab.slotElements(), 0, 3, new int[] {-1, 3, 0, 1}, new int[] {0, 1, 2, -1}, 4, digests);
        for (byte v : digests) {
            assertEquals((byte) 0x33, v, "nothing written");
        }
        DigestMirror.updateSketch(s, slab.values(), slab.slotElements(), 0, 3, new int[] {2}, new int[] {1}, 1, digests);
        float[] out = new float[4 * 2];
        DigestMirror.score(s, new float[16], 2, 1f, digests, new int[] {-1, 1, 2, Integer.MAX_VALUE}, 4, out);
        assertEquals(Float.POSITIVE_INFINITY, out[0]);
        assertEquals(Float.POSITIVE_INFINITY, out[1]);
        assertEquals(0f, out[2], "a zero query scores 0");
        assertEquals(0f, out[3]);
        for (int i = 4; i < 8; i++) {
            assertEquals(Float.POSITIVE_INFINITY, out[i]);
        }
    }

    // ---- exact ----

    @Test
    void exact_isTheBestLiveRowsScore_withMasksHeadMaskAndAnOutOfRangeSlot() {
        SplittableRandom r = new SplittableRandom(41);
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            int heads = 8;
            int kvHeads = 2;
            int headDim = 32;
            int B = 16;
            // room for a K half elsewhere in the slot: slot = 3 halves, keys at the second
            long half = (long) B * kvHeads * headDim * t.bytes();
            PagedKvShape kv = new PagedKvShape(t, heads, kvHeads, headDim, B, 3 * half);
            int capacity = 6;
            long slotElements = kv.slotBytes() / t.bytes();
            long keyOffset = half / t.bytes();
            float[] slab = DeviceArrays.random(r, (int) (capacity * slotElements), 1, t);
            int n = 7;
            int[] slots = {4, 0, 5, 2, capacity, -1, 1};
            int[] validRows = {B, 9, 1, 0, B, B, 16};
            byte[] mask = new byte[n * B];
            for (int i = 0; i < mask.length; i++) {
                mask[i] = (byte) (r.nextInt(4) == 0 ? 1 : 0);
            }
            Arrays.fill(mask, 6 * B, 7 * B, (byte) 1); // entry 6: every row evicted
            byte[] headMask = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
            float[] q = DeviceArrays.random(r, heads * headDim, 1, DType.F32);
            float scale = 0.125f;
            for (boolean masks : new boolean[] {true, false}) {
                float[] out = new float[n * heads];
                DigestMirror.exact(kv, q, scale, slab, keyOffset, capacity, slots, masks ? validRows : null, masks ? mask : null, headMask,
                        n, out);
                for (int j = 0; j < n; j++) {
                    for (int h = 0; h < heads; h++) {
                        int kh = h / kv.group();
                        double best = Double.NEGATIVE_INFINITY;
                        boolean inRange = slots[j] >= 0 && slots[j] < capacity;
                        if (inRange && headMask[j * kvHeads + kh] != 0) {
                            for (int row = 0; row < B; row++) {
                                if (masks && (row >= validRows[j] || mask[j * B + row] != 0)) {
                                    continue;
                                }
                                double dot = 0;
                                for (int d = 0; d < headDim; d++) {
                                    dot += (double) q[h * headDim + d]
                                            * slab[(int) (slots[j] * slotElements + keyOffset + kv.element(row, kh, d))];
                                }
                                best = Math.max(best, scale * dot);
                            }
                        }
                        String at = t + " masks " + masks + " entry " + j + " head " + h;
                        float got = out[j * heads + h];
                        if (best == Double.NEGATIVE_INFINITY) {
                            assertEquals(Float.NEGATIVE_INFINITY, got, at);
                        } else {
                            assertEquals(best, got, 1e-5 * (1 + Math.abs(best)), at);
                        }
                    }
                }
                assertEquals(Float.NEGATIVE_INFINITY, out[4 * heads], "a slot past the slab");
                assertEquals(Float.NEGATIVE_INFINITY, out[5 * heads], "a negative slot");
                assertEquals(Float.NEGATIVE_INFINITY, out[1 * heads + 4], "KV head 1 of entry 1 is masked off");
                if (masks) {
                    assertEquals(Float.NEGATIVE_INFINITY, out[3 * heads], "no valid row");
                    assertEquals(Float.NEGATIVE_INFINITY, out[6 * heads], "every row evicted");
                }
            }
        }
    }
}
