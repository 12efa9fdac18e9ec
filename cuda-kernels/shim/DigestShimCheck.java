import io.tierkv.core.DType;
import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.cuda.ops.DigestShape;
import io.tierkv.cuda.ops.HalfFloats;
import io.tierkv.cuda.ops.PagedKvShape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Holds {@code digest.cu}'s code digests, run as host C++ under {@code cuda_shim.h} ({@code digest_run}), to
 * {@link DigestMirror}: {@code digest_sketch_update} and {@code digest_sketch_score} bit for bit (the digest records, poisoned
 * ones left alone, and the scores), {@code digest_exact} within fp32 rounding of a fused multiply-add (its only difference
 * from the mirror). Random keys in F32 and BF16 slabs, with blocks of equal keys (a zero step), keys near the float range's
 * end (an infinite step), signed zeros, slots and digest indexes out of range, partial blocks, evicted rows and KV heads left
 * out. The exact scores of a block of keys near the float range's end are not compared: there a product overflows to
 * infinity in the mirror but not inside the kernel's fused multiply-add (+inf against a NaN row, which neither counts).
 * A development check for when no GPU is at hand (see README.md here), not part of the build.
 *
 * <pre>
 *   g++ -std=c++20 -O1 -pthread -ffp-contract=off -I cuda-kernels/shim/include -o cuda-kernels/shim/digest_run cuda-kernels/shim/digest_run.cpp
 *   java -cp cuda-kernels/target/classes:core/target/classes cuda-kernels/shim/DigestShimCheck.java SEED CASES
 * </pre>
 */
public class DigestShimCheck {
    /** {kvHeads, headDim, blockSize, bits, sketch, heads} per case, in turn. */
    static final int[][] SHAPES = {{1, 8, 16, 4, 1, 2}, {2, 64, 16, 4, 2, 4}, {4, 64, 16, 8, 4, 12}, {8, 128, 32, 4, 2, 32},
            {2, 16, 8, 8, 1, 2}, {3, 24, 16, 4, 4, 6}, {12, 8, 16, 4, 2, 12}, {4, 32, 64, 8, 2, 8}};

    public static void main(String[] args) throws IOException, InterruptedException {
        SplittableRandom r = new SplittableRandom(Long.parseLong(args[0]));
        int cases = Integer.parseInt(args[1]);
        StringBuilder in = new StringBuilder();
        List<String[]> want = new ArrayList<>();
        List<double[]> tolerances = new ArrayList<>();
        for (int c = 0; c < cases; c++) {
            int[] sh = SHAPES[c % SHAPES.length];
            DType dtype = c % 2 == 0 ? DType.F32 : DType.BF16;
            int kvHeads = sh[0], headDim = sh[1], blockSize = sh[2], bits = sh[3], sketch = sh[4], heads = sh[5];
            DigestShape s = new DigestShape(kvHeads, headDim, blockSize, 1, bits, sketch);
            PagedKvShape kv = PagedKvShape.dense(dtype, heads, kvHeads, headDim, blockSize);
            int n = r.nextInt(1, 9);
            int capacity = n + 2;
            int digestCapacity = n + 3;
            int blockBytes = (int) s.bytesPerBlock();
            float scale = (float) (1 / Math.sqrt(headDim));
            int slotElements = 2 * blockSize * kvHeads * headDim;
            float[] slab = new float[capacity * slotElements];
            boolean[] huge = new boolean[capacity];
            for (int slot = 0; slot < capacity; slot++) {
                int kind = r.nextInt(6);
                huge[slot] = kind == 1;
                for (int i = 0; i < slotElements; i++) {
                    float v = switch (kind) {
                        case 0 -> 0.75f;                                                     // equal keys: a zero step
                        case 1 -> (r.nextBoolean() ? 1 : -1) * 3e38f * (float) r.nextDouble(); // an infinite step
                        case 2 -> r.nextInt(3) == 0 ? (r.nextBoolean() ? 0f : -0f) : (float) r.nextGaussian();
                        default -> (float) (r.nextGaussian() * 2);
                    };
                    slab[slot * slotElements + i] = dtype == DType.BF16 ? HalfFloats.fromBf16(HalfFloats.toBf16(v)) : v;
                }
            }
            int[] slots = new int[n];
            int[] indexes = new int[n];
            int[] valid = new int[n];
            byte[] mask = new byte[n * blockSize];
            byte[] headMask = new byte[n * kvHeads];
            for (int b = 0; b < n; b++) {
                slots[b] = r.nextInt(12) == 0 ? (r.nextBoolean() ? -1 : capacity) : r.nextInt(capacity);
                indexes[b] = r.nextInt(12) == 0 ? (r.nextBoolean() ? -1 : digestCapacity) : (b * 7 + c) % digestCapacity;
                valid[b] = r.nextInt(4) == 0 ? r.nextInt(0, blockSize + 1) : blockSize;
            }
            for (int i = 0; i < mask.length; i++) {
                mask[i] = (byte) (r.nextInt(5) == 0 ? 1 : 0);
            }
            for (int i = 0; i < headMask.length; i++) {
                headMask[i] = (byte) (r.nextInt(4) == 0 ? 0 : 1);
            }
            float[] q = new float[heads * headDim];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) r.nextGaussian();
            }
            byte[] digests = new byte[digestCapacity * blockBytes];
            Arrays.fill(digests, (byte) 0xcd);
            DigestMirror.updateSketch(s, slab, slotElements, 0, capacity, slots, indexes, n, digests);
            float[] scores = new float[n * heads];
            DigestMirror.score(s, q, heads, scale, digests, indexes, n, scores);
            float[] exact = new float[n * heads];
            DigestMirror.exact(kv, q, scale, slab, 0, capacity, slots, valid, mask, headMask, n, exact);
            StringBuilder d = new StringBuilder();
            for (byte x : digests) {
                d.append(String.format("%02x", x & 0xff));
            }
            want.add(new String[] {d.toString(), hexes(scores), hexes(exact)});
            // digest_exact's fused multiply-adds round apart from the mirror by at most about headDim ulps of the largest
            // product: per entry, 1e-5 x scale x headDim x max |q| x max |k| of its slot
            float maxQ = 0;
            for (float x : q) {
                maxQ = Math.max(maxQ, Math.abs(x));
            }
            double[] tol = new double[n * heads];
            for (int b = 0; b < n; b++) {
                float maxK = 0;
                if (slots[b] >= 0 && slots[b] < capacity) {
                    for (int i = 0; i < slotElements / 2; i++) {
                        maxK = Math.max(maxK, Math.abs(slab[slots[b] * slotElements + i]));
                    }
                }
                boolean overflows = slots[b] >= 0 && slots[b] < capacity && huge[slots[b]];
                Arrays.fill(tol, b * heads, (b + 1) * heads, overflows ? Double.POSITIVE_INFINITY : 1e-5 * scale * headDim * maxQ * maxK);
            }
            tolerances.add(tol);

            in.append(dtype == DType.F32 ? 0 : 2).append(' ').append(kvHeads).append(' ').append(headDim).append(' ').append(blockSize)
                    .append(' ').append(bits).append(' ').append(sketch).append(' ').append(heads).append(' ').append(n).append(' ')
                    .append(capacity).append(' ').append(digestCapacity).append(' ').append(blockBytes).append(' ')
                    .append(Integer.toHexString(Float.floatToRawIntBits(scale))).append('\n');
            for (float v : slab) {
                in.append(Integer.toHexString(dtype == DType.F32 ? Float.floatToRawIntBits(v) : HalfFloats.toBf16(v) & 0xffff)).append(' ');
            }
            in.append('\n');
            for (int[] ints : new int[][] {slots, indexes}) {
                for (int x : ints) {
                    in.append(x).append(' ');
                }
            }
            in.append(hexes(q)).append('\n');
            for (int x : valid) {
                in.append(x).append(' ');
            }
            for (byte[] bytes : new byte[][] {mask, headMask}) {
                for (byte x : bytes) {
                    in.append(x).append(' ');
                }
            }
            in.append('\n');
        }
        Path input = Files.createTempFile("digest-cases", ".txt");
        Path output = Files.createTempFile("digest-got", ".txt");
        Files.writeString(input, in);
        Process p = new ProcessBuilder("cuda-kernels/shim/digest_run").redirectInput(input.toFile()).redirectOutput(output.toFile()).start();
        int rc = p.waitFor();
        List<String> got = Files.readAllLines(output);
        Files.delete(input);
        Files.delete(output);
        int[] bad = new int[3];
        String[] what = {"digest records", "sketch scores", "exact scores"};
        for (int c = 0; c < cases; c++) {
            for (int k = 0; k < 3; k++) {
                String g = 3 * c + k < got.size() ? got.get(3 * c + k).trim() : "<missing>";
                String w = want.get(c)[k];
                boolean same = k == 0 ? g.equals(w) : sameFloats(g, w, k == 1 ? null : tolerances.get(c));
                if (!same && bad[k]++ < 3) {
                    System.out.println("case " + c + " (" + Arrays.toString(SHAPES[c % SHAPES.length]) + ", " + (c % 2 == 0 ? "F32" : "BF16")
                            + "): the " + what[k] + " differ\n  want " + clip(w) + "\n  got  " + clip(g));
                }
            }
        }
        System.out.println(cases + " cases: " + bad[0] + " with other digest records, " + bad[1] + " with other sketch scores, " + bad[2]
                + " with exact scores outside the bound (runner exit " + rc + ")");
        System.exit(bad[0] + bad[1] + bad[2] == 0 && rc == 0 ? 0 : 1);
    }

    static String hexes(float[] v) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < v.length; i++) {
            b.append(i == 0 ? "" : " ").append(Integer.toHexString(Float.floatToRawIntBits(v[i])));
        }
        return b.toString();
    }

    /** The same floats: bit for bit (any NaN equals any NaN), or, with {@code tol}, finite and within {@code tol[i]} of each other. */
    static boolean sameFloats(String got, String want, double[] tol) {
        String[] g = got.isEmpty() ? new String[0] : got.split(" ");
        String[] w = want.isEmpty() ? new String[0] : want.split(" ");
        if (g.length != w.length) {
            return false;
        }
        for (int i = 0; i < g.length; i++) {
            float a = Float.intBitsToFloat(Integer.parseUnsignedInt(g[i], 16));
            float b = Float.intBitsToFloat(Integer.parseUnsignedInt(w[i], 16));
            boolean ok = Float.floatToRawIntBits(a) == Float.floatToRawIntBits(b) || (Float.isNaN(a) && Float.isNaN(b))
                    || (tol != null && (tol[i] == Double.POSITIVE_INFINITY
                    || (Float.isFinite(a) && Float.isFinite(b) && Math.abs(a - b) <= tol[i])));
            if (!ok) {
                if (tol != null) {
                    System.out.println("  element " + i + ": want " + b + ", got " + a + " (bound " + tol[i] + ")");
                }
                return false;
            }
        }
        return true;
    }

    private static String clip(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
