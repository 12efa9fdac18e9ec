import io.tierkv.core.DType;
import io.tierkv.cuda.ops.HalfFloats;
import io.tierkv.cuda.ops.LaunchPlans;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.ReferenceOps;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Holds {@code paged_attention.cu}, run as host C++ under {@code cuda_shim.h} ({@code paged_attention_run}), to
 * {@link ReferenceOps#pagedAttention} within the GPU test's tolerance (3e-5, relative above 1): the split plan
 * {@link LaunchPlans#pagedAttention} chooses for 132 and for 8 SMs (one split to many, the last CTA merging), grouped
 * queries of 1 to 12 heads per KV head (chunks of 8), F32, F16 and BF16 slabs, partial and empty blocks, evicted rows,
 * slots out of range, and the per-KV-head mask ({@code select=head}'s host part) leaving some heads with nothing to attend
 * (out 0, lse -inf); half the cases as a captured step launches the kernel, planned for more entries than are live and the
 * live count read on the device; and a third of them as a prefill chunk launches it: 2 to 9 query rows on grid z, each cut at
 * its causal edge, the entries' blocks in order or scattered through a block index (the tiered store's parts). Also that
 * every arrival counter is zero again. Half the cases add a second part (its own slab, table and masks: a tiered sequence's
 * host blocks after its device blocks), held to the two parts attended apart and merged by log-sum-exp. A development check for when no GPU is at hand
 * (see README.md here), not part of the build.
 *
 * <pre>
 *   g++ -std=c++20 -O1 -pthread -I cuda-kernels/shim/include -o cuda-kernels/shim/paged_attention_run cuda-kernels/shim/paged_attention_run.cpp
 *   java -cp cuda-kernels/target/classes:core/target/classes cuda-kernels/shim/PagedAttentionShimCheck.java SEED CASES
 * </pre>
 */
public class PagedAttentionShimCheck {
    /** {heads, kvHeads, headDim, blockSize} per case, in turn. */
    static final int[][] SHAPES = {{4, 4, 64, 16}, {8, 4, 64, 16}, {16, 4, 128, 16}, {32, 4, 64, 16}, {24, 2, 64, 16}, {6, 3, 8, 7},
            {12, 4, 256, 16}, {2, 1, 32, 5}};
    static final double TOLERANCE = 3e-5;

    public static void main(String[] args) throws IOException, InterruptedException {
        SplittableRandom r = new SplittableRandom(Long.parseLong(args[0]));
        int cases = Integer.parseInt(args[1]);
        StringBuilder in = new StringBuilder();
        List<ReferenceOps.Attention> want = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int c = 0; c < cases; c++) {
            int[] sh = SHAPES[c % SHAPES.length];
            DType dtype = DType.values()[c % 3];
            int heads = sh[0], kvHeads = sh[1], headDim = sh[2], blockSize = sh[3];
            PagedKvShape s = PagedKvShape.dense(dtype, heads, kvHeads, headDim, blockSize);
            int n = r.nextInt(1, 48);
            // half the cases as a captured step launches it: planned for more entries (the arrays too, the rest valid-looking,
            // so reading past the live ones would show), the live count read through liveBlocks
            boolean device = r.nextBoolean();
            int planned = device ? n + r.nextInt(0, 40) : n;
            int capacity = planned + 3;
            int sms = c % 2 == 0 ? 132 : 8;
            // a third of the cases as a prefill chunk: several query rows, each cut at its position
            int rows = c % 3 == 2 ? r.nextInt(2, 10) : 1;
            int firstPosition = rows > 1 || r.nextInt(4) == 0 ? Math.max(0, r.nextInt(planned * blockSize) - rows / 2) : -1;
            int[] blockIndex = null;
            if (firstPosition >= 0 && r.nextBoolean()) { // the entries' blocks scattered, as in a tiered part
                blockIndex = new int[planned];
                for (int b = 0; b < planned; b++) {
                    blockIndex[b] = b;
                }
                for (int b = planned - 1; b > 0; b--) {
                    int o = r.nextInt(b + 1);
                    int t = blockIndex[b];
                    blockIndex[b] = blockIndex[o];
                    blockIndex[o] = t;
                }
            }
            Second second = r.nextBoolean() ? Second.random(r, s, firstPosition >= 0) : null;
            int entries = planned + (second == null ? 0 : second.slots.length);
            LaunchPlans.AttentionPlan plan = LaunchPlans.pagedAttention(entries, blockSize, kvHeads, s.group(), headDim, sms, rows);
            float scale = (float) (1 / Math.sqrt(headDim));
            int slotElements = (int) (s.slotBytes() / dtype.bytes());
            float[] slab = slab(r, dtype, capacity * slotElements);
            int[] slots = new int[planned];
            for (int b = 0; b < planned; b++) {
                slots[b] = r.nextInt(16) == 0 ? (r.nextBoolean() ? -1 : capacity) : r.nextInt(capacity);
            }
            boolean hasValid = r.nextInt(4) != 0;
            boolean hasMask = r.nextInt(3) == 0;
            boolean hasHeadMask = r.nextInt(3) != 0;
            int[] valid = null;
            if (hasValid) {
                valid = new int[planned];
                for (int b = 0; b < planned; b++) {
                    valid[b] = r.nextInt(5) == 0 ? r.nextInt(0, blockSize + 1) : blockSize;
                }
            }
            byte[] mask = null;
            if (hasMask) {
                mask = new byte[planned * blockSize];
                for (int i = 0; i < mask.length; i++) {
                    mask[i] = (byte) (r.nextInt(5) == 0 ? 1 : 0);
                }
            }
            byte[] headMask = null;
            if (hasHeadMask) {
                headMask = new byte[planned * kvHeads];
                int dark = r.nextInt(kvHeads + 1); // a KV head that sees no entry at all, or none (dark == kvHeads)
                for (int i = 0; i < headMask.length; i++) {
                    headMask[i] = (byte) (i % kvHeads == dark || r.nextInt(3) == 0 ? 0 : 1);
                }
            }
            float[] q = new float[rows * heads * headDim];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) r.nextGaussian();
            }
            ReferenceOps.Attention a = firstPosition < 0 ? ReferenceOps.pagedAttention(s, q, slab, slots, valid, mask, headMask, n, scale)
                    : ReferenceOps.pagedAttentionRows(s, q, rows, firstPosition, blockIndex, slab, slots, valid, mask, headMask, n, scale);
            if (second != null) {
                int n2 = second.slots.length;
                ReferenceOps.Attention b = firstPosition < 0
                        ? ReferenceOps.pagedAttention(s, q, second.slab, second.slots, second.valid, second.mask, second.headMask, n2, scale)
                        : ReferenceOps.pagedAttentionRows(s, q, rows, firstPosition, second.blockIndex, second.slab, second.slots, second.valid,
                        second.mask, second.headMask, n2, scale);
                a = ReferenceOps.merge(a, b, rows * heads, headDim);
            }
            want.add(a);
            names.add(dtype + " " + heads + "/" + kvHeads + " heads x " + headDim + ", blocks of " + blockSize + ", " + n + " entries"
                    + (device ? " read on the device (planned for " + planned + ")" : "") + ", G "
                    + plan.headsPerCta() + ", " + plan.splits() + " splits of " + plan.blocksPerSplit() + (hasValid ? ", valid rows" : "")
                    + (hasMask ? ", evict mask" : "") + (hasHeadMask ? ", head mask" : "")
                    + (firstPosition >= 0 ? ", " + rows + " rows from position " + firstPosition + (blockIndex != null ? ", blocks scattered" : "") : "")
                    + (second != null ? ", a second part of " + second.slots.length + " entries" : ""));

            in.append(c % 3 == 0 ? 0 : c % 3 == 1 ? 1 : 2).append(' ').append(heads).append(' ').append(kvHeads).append(' ').append(headDim)
                    .append(' ').append(blockSize).append(' ').append(capacity).append(' ').append(planned).append(' ').append(device ? n : -1)
                    .append(' ').append(plan.headsPerCta())
                    .append(' ').append(plan.blocksPerSplit()).append(' ').append(plan.splits()).append(' ')
                    .append(Integer.toHexString(Float.floatToRawIntBits(scale))).append(' ').append(hasValid ? 1 : 0).append(' ')
                    .append(hasMask ? 1 : 0).append(' ').append(hasHeadMask ? 1 : 0).append(' ').append(rows).append(' ').append(firstPosition)
                    .append(' ').append(blockIndex != null ? 1 : 0).append(' ').append(second == null ? 0 : second.slots.length).append('\n');
            appendSlab(in, slab, dtype);
            appendTable(in, slots, valid, mask, headMask, blockIndex);
            if (second != null) {
                second.write(in, dtype);
            }
            for (float x : q) {
                in.append(Integer.toHexString(Float.floatToRawIntBits(x))).append(' ');
            }
            in.append('\n');
        }
        Path input = Files.createTempFile("paged-attention-cases", ".txt");
        Path output = Files.createTempFile("paged-attention-got", ".txt");
        Files.writeString(input, in);
        Process p = new ProcessBuilder("cuda-kernels/shim/paged_attention_run").redirectInput(input.toFile()).redirectOutput(output.toFile())
                .start();
        int rc = p.waitFor();
        List<String> got = Files.readAllLines(output);
        Files.delete(input);
        Files.delete(output);
        int bad = 0;
        for (int c = 0; c < cases; c++) {
            String problem = 3 * c + 2 < got.size() ? compare(want.get(c), got.get(3 * c), got.get(3 * c + 1), got.get(3 * c + 2)) : "missing";
            if (problem != null && bad++ < 5) {
                System.out.println("case " + c + " (" + names.get(c) + "): " + problem);
            }
        }
        System.out.println(cases + " cases, " + bad + " differ (runner exit " + rc + ")");
        System.exit(bad == 0 && rc == 0 ? 0 : 1);
    }

    /** A second part: its own slab, slots, valid rows, masks and block indexes. */
    record Second(float[] slab, int capacity, int[] slots, int[] valid, byte[] mask, byte[] headMask, int[] blockIndex) {
        static Second random(SplittableRandom r, PagedKvShape s, boolean blocks) {
            int n = r.nextInt(1, 30);
            int capacity = r.nextInt(2, 20);
            float[] slab = PagedAttentionShimCheck.slab(r, s.dtype(), capacity * (int) (s.slotBytes() / s.dtype().bytes()));
            int[] slots = new int[n];
            for (int b = 0; b < n; b++) {
                slots[b] = r.nextInt(16) == 0 ? capacity : r.nextInt(capacity);
            }
            int[] valid = null;
            if (r.nextBoolean()) {
                valid = new int[n];
                for (int b = 0; b < n; b++) {
                    valid[b] = r.nextInt(4) == 0 ? r.nextInt(0, s.blockSize() + 1) : s.blockSize();
                }
            }
            byte[] mask = null;
            if (r.nextInt(3) == 0) {
                mask = new byte[n * s.blockSize()];
                for (int i = 0; i < mask.length; i++) {
                    mask[i] = (byte) (r.nextInt(5) == 0 ? 1 : 0);
                }
            }
            byte[] headMask = null;
            if (r.nextBoolean()) {
                headMask = new byte[n * s.kvHeads()];
                for (int i = 0; i < headMask.length; i++) {
                    headMask[i] = (byte) (r.nextInt(3) == 0 ? 0 : 1);
                }
            }
            int[] blockIndex = null;
            if (blocks && r.nextBoolean()) {
                blockIndex = new int[n];
                for (int b = 0; b < n; b++) {
                    blockIndex[b] = r.nextInt(0, 60);
                }
            }
            return new Second(slab, capacity, slots, valid, mask, headMask, blockIndex);
        }

        /** "capacity2 valid mask headMask blockIndex", the slab, the slots and the arrays present, as the runner reads them. */
        void write(StringBuilder in, DType dtype) {
            in.append(capacity).append(' ').append(valid != null ? 1 : 0).append(' ').append(mask != null ? 1 : 0).append(' ')
                    .append(headMask != null ? 1 : 0).append(' ').append(blockIndex != null ? 1 : 0).append('\n');
            appendSlab(in, slab, dtype);
            appendTable(in, slots, valid, mask, headMask, blockIndex);
            in.append('\n');
        }
    }

    /** {@code n} random slab elements, rounded to {@code dtype}. */
    static float[] slab(SplittableRandom r, DType dtype, int n) {
        float[] slab = new float[n];
        for (int i = 0; i < slab.length; i++) {
            float v = (float) (r.nextGaussian() * 1.5);
            slab[i] = switch (dtype) {
                case BF16 -> HalfFloats.fromBf16(HalfFloats.toBf16(v));
                case F16 -> HalfFloats.fromF16(HalfFloats.toF16(v));
                default -> v;
            };
        }
        return slab;
    }

    /** A part's table as the runner reads it: the slots, then the arrays present (valid rows, mask, head mask, block indexes). */
    static void appendTable(StringBuilder in, int[] slots, int[] valid, byte[] mask, byte[] headMask, int[] blockIndex) {
        for (int[] ints : new int[][] {slots, valid}) {
            if (ints != null) {
                for (int x : ints) {
                    in.append(x).append(' ');
                }
            }
        }
        for (byte[] bytes : new byte[][] {mask, headMask}) {
            if (bytes != null) {
                for (byte x : bytes) {
                    in.append(x).append(' ');
                }
            }
        }
        if (blockIndex != null) {
            for (int x : blockIndex) {
                in.append(x).append(' ');
            }
        }
    }

    /** The slab's elements as hex words of their bits, then a line break. */
    static void appendSlab(StringBuilder in, float[] slab, DType dtype) {
        for (float v : slab) {
            int bits = switch (dtype) {
                case BF16 -> HalfFloats.toBf16(v) & 0xffff;
                case F16 -> HalfFloats.toF16(v) & 0xffff;
                default -> Float.floatToRawIntBits(v);
            };
            in.append(Integer.toHexString(bits)).append(' ');
        }
        in.append('\n');
    }

    /** Null when the kernel's out and lse are within the tolerance of the reference and the counters are zero. */
    static String compare(ReferenceOps.Attention want, String outLine, String lseLine, String arrivals) {
        float[] out = floats(outLine);
        float[] lse = floats(lseLine);
        if (out.length != want.out().length || lse.length != want.lse().length) {
            return "wrong lengths";
        }
        for (int i = 0; i < out.length; i++) {
            if (!(Math.abs(out[i] - want.out()[i]) <= TOLERANCE * Math.max(1, Math.abs(want.out()[i])))) {
                return "out[" + i + "] " + out[i] + ", reference " + want.out()[i];
            }
        }
        for (int h = 0; h < lse.length; h++) {
            float w = want.lse()[h];
            boolean ok = w == Float.NEGATIVE_INFINITY ? lse[h] == w : Math.abs(lse[h] - w) <= TOLERANCE * Math.max(1, Math.abs(w));
            if (!ok) {
                return "lse[" + h + "] " + lse[h] + ", reference " + w;
            }
        }
        return arrivals.trim().equals("arrivals 0") ? null : "arrival counters left non-zero: " + arrivals;
    }

    static float[] floats(String line) {
        String[] parts = line.trim().split(" ");
        float[] v = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            v[i] = Float.intBitsToFloat(Integer.parseUnsignedInt(parts[i], 16));
        }
        return v;
    }
}
