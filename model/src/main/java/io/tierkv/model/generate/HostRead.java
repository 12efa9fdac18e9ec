package io.tierkv.model.generate;

import java.util.Locale;

/**
 * How a decode step reads the host tier: {@code exact} attends every host block; {@code digest} bounds every
 * host block's possible score from its {@link BlockDigests digest} and reads and attends only the host blocks
 * whose bound ranks highest (Quest's page selection). Parsed from the command line's
 * {@code --host-read exact|digest|digest:blocks=N[,parts=P][,min=R][,bits=16|8|4][,select=block|head][,slices=S][,keys=C]}.
 *
 * <p>{@code select=block} (the default) reads whole blocks: the {@code blocks} best by their rank over all heads.
 * {@code select=head} reads one KV head's slice of a block ({@code 1/K} of its bytes) at a time, as Quest selects
 * pages per head: each KV head reads its own best block, and the rest of {@code slices} head slices per layer
 * (by default {@code blocks} times the KV heads: the bytes of {@code blocks} blocks) go to the (head, block) pairs
 * whose bound comes closest to that head's best bound ({@link HostBlockSelector}).
 *
 * <p>{@code keys=C} (with {@code select=head}) selects in two stages: the digests pick {@code C} head slices as
 * above, their keys are read (half a slice's bytes each) and scored exactly against the query, and only the
 * {@code slices} best of them by their true best score are read whole (their values, the other half). A step reads
 * {@code (C + slices) / 2} slices' bytes. The digests' bound ranks a block by what its box allows, not by what its
 * keys score; the exact scores of a few more candidates than are read put the read where the attention is.
 *
 * <p>{@code sketch=s} keeps every key of a block in the digest, coded in {@code s} bits per dimension within the block's
 * box ({@link BlockDigests}), and ranks the host blocks by each head's estimated best score over those coded keys instead
 * of the box's bound: a ranking by what the keys score, at {@code B K d s / 8} more digest bytes per block and no host
 * bytes. With it the second stage of {@code keys=C} has little left to correct.
 *
 * @param digest  true for sparse reads through the digests
 * @param blocks  host blocks read per layer and decode step in digest mode ({@code >= 1})
 * @param parts   sub-blocks per block digest ({@link BlockDigests}; 1 is Quest's)
 * @param min     a block past the first {@link #SURE_BLOCKS} is read only when its rank ({@link HostBlockSelector}: the
 *                most weight one of its keys could have relative to the best host block, summed over heads) reaches
 *                {@code min}; 0 reads all {@code blocks}. With {@code select=head}: a slice past its head's best is read
 *                only when its value ({@code sum_h exp(bound_h - best_h)} over the KV head's query heads) reaches it
 * @param bits    bits per digest value: 16 (bfloat16 minima and maxima), 8 or 4 (codes over a float32 offset and scale
 *                per block and KV head, {@link BlockDigests})
 * @param perHead true for {@code select=head}
 * @param slices  head slices per layer and step with {@code select=head}; 0: {@code blocks} times the KV heads
 * @param keys    {@code select=head} only: head slices whose keys are read and scored exactly, of which the {@code slices}
 *                best are read whole; 0: none, the digests choose the slices read
 * @param sketch  bits per key dimension of the digest's sketch (1, 2 or 4; {@code parts} must be 1), 0 for the box alone
 */
public record HostRead(boolean digest, int blocks, int parts, double min, int bits, boolean perHead, int slices, int keys,
                       int sketch) {
    /** Blocks read whatever their rank when {@code min} is set. */
    public static final int SURE_BLOCKS = 2;

    /** Host blocks per layer and step of {@code digest:...} when {@code blocks} is not given. */
    public static final int DEFAULT_BLOCKS = 2;

    /**
     * Plain {@code digest}: {@code digest:blocks=2,bits=4,select=head,slices=8,keys=12,sketch=2}: one 4-bit box per block
     * and KV head with every key coded in 2 bits per dimension within it (672 bytes a block for the bundled model's 4 KV
     * heads of 32, 4.1% of its float32 KV), 12 head slices chosen by the keys' estimated scores whose keys are then
     * scored exactly, the 8 best read whole: 10 slices' bytes, 2.5 blocks' worth with 4 KV heads. Measured on the
     * bundled model at a 25% device budget (README, "Sparse host reads"; 40 prompts per position, 3 rounds): 99.4 /
     * 100, 100 / 100 and 100 / 98.8% in rounds 1 to 3 at 9.1, 8.3 and 7.7% of the host bytes, where the previous plain
     * digest, four 4-bit sub-block boxes ranked by their bounds ({@code parts=4} instead of the sketch, 640 bytes a
     * block), scored 98.8 / 98.8, 89.4 / 95.6 and 93.1 / 93.1% at the same bytes; {@code full} with exact reads 100%.
     */
    public static final HostRead DEFAULT = new HostRead(true, DEFAULT_BLOCKS, 1, 0, 4, true, 8, 12, 2);

    /**
     * Smaller digests for tight budgets: {@code digest:bits=4,select=head,slices=10,keys=14,sketch=1}, the keys coded in
     * one bit per dimension (416 bytes a block for the bundled model, 62% of {@link #DEFAULT}'s), the keys of 14 slices
     * scored and 10 read. At a 10% device budget, where plain {@code digest} does not fit, it scored 87.5 / 98.1% on the
     * bundled model in round 1 at 9.6% of the host bytes ({@code digest:blocks=3,bits=8}: 83.8 / 77.5%); the error that
     * says the digests do not fit suggests it.
     */
    public static final HostRead SMALL = new HostRead(true, DEFAULT_BLOCKS, 1, 0, 4, true, 10, 14, 1);

    /** Every host block, every step: today's behaviour. */
    public static final HostRead EXACT = new HostRead(false, 0, 1, 0);

    /** Sub-blocks per digest by default. */
    public static final int DEFAULT_PARTS = 1;

    /** Bits per digest value by default: bfloat16. */
    public static final int DEFAULT_BITS = 16;

    public HostRead {
        if (digest && blocks < 1) {
            throw new IllegalArgumentException("--host-read digest needs blocks >= 1, was " + blocks);
        }
        if (parts < 1) {
            throw new IllegalArgumentException("--host-read digest needs parts >= 1, was " + parts);
        }
        if (!(min >= 0) || Double.isInfinite(min)) {
            throw new IllegalArgumentException("--host-read digest needs min >= 0 and finite, was " + min);
        }
        if (bits != 16 && bits != 8 && bits != 4) {
            throw new IllegalArgumentException("--host-read digest needs bits=16, 8 or 4, was " + bits);
        }
        if (slices < 0) {
            throw new IllegalArgumentException("--host-read digest needs slices >= 1, was " + slices);
        }
        if (slices > 0 && !perHead) {
            throw new IllegalArgumentException("--host-read digest: slices=" + slices + " needs select=head");
        }
        if (keys < 0) {
            throw new IllegalArgumentException("--host-read digest needs keys >= 1, was " + keys);
        }
        if (keys > 0 && !perHead) {
            throw new IllegalArgumentException("--host-read digest: keys=" + keys + " needs select=head");
        }
        if (sketch != 0 && sketch != 1 && sketch != 2 && sketch != 4) {
            throw new IllegalArgumentException("--host-read digest needs sketch=1, 2 or 4, was " + sketch);
        }
        if (sketch != 0 && parts != 1) {
            throw new IllegalArgumentException("--host-read digest: sketch=" + sketch + " codes each key within its block's one box;"
                    + " it needs parts=1, was " + parts);
        }
        if (keys > 0 && keys <= slices) {
            throw new IllegalArgumentException("--host-read digest: keys=" + keys + " must exceed slices=" + slices
                    + " (the slices read whole are chosen among the keys scored)");
        }
    }

    /** Digest mode without a sketch; see the canonical constructor. */
    public HostRead(boolean digest, int blocks, int parts, double min, int bits, boolean perHead, int slices, int keys) {
        this(digest, blocks, parts, min, bits, perHead, slices, keys, 0);
    }

    /** Digest mode without exact key scoring; see the canonical constructor. */
    public HostRead(boolean digest, int blocks, int parts, double min, int bits, boolean perHead, int slices) {
        this(digest, blocks, parts, min, bits, perHead, slices, 0);
    }

    /** Digest mode reading {@code blocks} blocks of {@code parts}-part digests whose rank reaches {@code min}. */
    public HostRead(boolean digest, int blocks, int parts, double min) {
        this(digest, blocks, parts, min, DEFAULT_BITS, false, 0);
    }

    /** Digest mode reading {@code blocks} blocks of {@code parts}-part digests, whatever their rank. */
    public HostRead(boolean digest, int blocks, int parts) {
        this(digest, blocks, parts, 0);
    }

    /** Digest mode reading {@code blocks} host blocks per layer and step, with the default digest. */
    public static HostRead digest(int blocks) {
        return new HostRead(true, blocks, DEFAULT_PARTS);
    }

    /** Bytes of one block's digest for a model of {@code kvHeads} KV heads of {@code headDim} in blocks of {@code blockSize}. */
    public long digestBytesPerBlock(int kvHeads, int headDim, int blockSize) {
        return BlockDigests.bytesPerBlock(kvHeads, headDim, parts, bits, sketch, blockSize);
    }

    /** Head slices per layer and step with {@code select=head} for a model of {@code kvHeads} KV heads. */
    public int slicesFor(int kvHeads) {
        return slices > 0 ? slices : blocks * kvHeads;
    }

    /** Head slices whose keys are scored exactly with {@code keys=C} for a model of {@code kvHeads} KV heads; 0 without. */
    public int keysFor(int kvHeads) {
        if (keys == 0) {
            return 0;
        }
        if (keys <= slicesFor(kvHeads)) {
            throw new IllegalArgumentException("--host-read " + this + ": keys=" + keys + " must exceed the " + slicesFor(kvHeads)
                    + " head slices read whole (they are chosen among the keys scored)");
        }
        return keys;
    }

    /**
     * The first option the CUDA decoder's digest path does not implement, or null when it implements them all. Its
     * kernels keep either bfloat16 boxes ({@code bits=16}, any {@code parts}, no sketch: Quest's digest) or 8- or 4-bit
     * boxes with a sketch ({@code bits=8|4,sketch=1|2|4}); the selection ({@code select=block|head}, {@code slices},
     * {@code keys}, {@code min}) is the CPU's, on the host.
     */
    public String cudaUnsupported() {
        if (!digest) {
            return null;
        }
        if (bits != DEFAULT_BITS && sketch == 0) {
            return "bits=" + bits + " without a sketch";
        }
        if (bits == DEFAULT_BITS && sketch != 0) {
            return "sketch=" + sketch + " over bfloat16 boxes";
        }
        return null;
    }

    /** Refuses, in one line naming the option, a digest option the CUDA decoder does not implement. */
    public void checkCuda() {
        String option = cudaUnsupported();
        if (option != null) {
            throw new IllegalArgumentException("--host-read " + this + " with --backend cuda: " + option
                    + " is not implemented by the CUDA digest kernels (bfloat16 boxes, or 8- or 4-bit boxes with a sketch);"
                    + " use the CPU backend, plain digest or digest:blocks=N");
        }
    }

    /** This mode as the CUDA decoder reads it: the same mode, once {@link #checkCuda()} found it implemented. */
    public HostRead forCuda() {
        checkCuda();
        return this;
    }

    /** {@code exact}, {@code digest} or {@code digest:blocks=N,...}. */
    public static HostRead parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("exact")) {
            return EXACT;
        }
        if (s.equals("digest")) {
            return DEFAULT;
        }
        if (s.startsWith("digest:")) {
            int blocks = DEFAULT_BLOCKS;
            int parts = DEFAULT_PARTS;
            int bits = DEFAULT_BITS;
            int slices = 0;
            int keys = 0;
            int sketch = 0;
            boolean perHead = false;
            double min = 0;
            for (String option : s.substring("digest:".length()).split(",")) {
                String[] kv = option.split("=", 2);
                String key = kv[0].trim();
                String value = kv.length == 2 ? kv[1].trim() : "";
                switch (kv.length == 2 ? key : "") {
                    case "min" -> {
                        try {
                            min = Double.parseDouble(value);
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("--host-read " + spec + ": min must be a number, was '" + value + "'");
                        }
                    }
                    case "select" -> {
                        if (!value.equals("block") && !value.equals("head")) {
                            throw new IllegalArgumentException("--host-read " + spec + ": select must be block or head, was '" + value + "'");
                        }
                        perHead = value.equals("head");
                    }
                    case "blocks" -> blocks = integer(spec, key, value);
                    case "parts" -> parts = integer(spec, key, value);
                    case "bits" -> bits = integer(spec, key, value);
                    case "slices" -> {
                        slices = integer(spec, key, value);
                        if (slices < 1) {
                            throw new IllegalArgumentException("--host-read " + spec + ": slices must be >= 1, was " + slices);
                        }
                    }
                    case "keys" -> {
                        keys = integer(spec, key, value);
                        if (keys < 1) {
                            throw new IllegalArgumentException("--host-read " + spec + ": keys must be >= 1, was " + keys);
                        }
                    }
                    case "sketch" -> sketch = integer(spec, key, value);
                    default -> throw new IllegalArgumentException("--host-read " + spec + ": unknown option '" + option
                            + "' (digest takes blocks=N, parts=P, min=R, bits=16|8|4, select=block|head, slices=S, keys=C"
                            + " and sketch=1|2|4)");
                }
            }
            return new HostRead(true, blocks, parts, min, bits, perHead, slices, keys, sketch);
        }
        throw new IllegalArgumentException("--host-read must be exact, digest or digest:blocks=N, was '" + spec + "'");
    }

    private static int integer(String spec, String key, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--host-read " + spec + ": " + key + " must be an integer, was '" + value + "'");
        }
    }

    /**
     * Marks in {@code chosen} the host blocks to read from their ranks ({@code DigestMirror.rank} of {@code n} blocks):
     * the {@link #blocks()} highest (the lowest index first on a tie), past {@link #SURE_BLOCKS} only those reaching
     * {@link #min()}; returns how many. The one selection rule of both backends' whole-block digest reads.
     */
    public int choose(float[] rank, int n, boolean[] chosen) {
        java.util.Arrays.fill(chosen, 0, n, false);
        int keep = Math.min(n, blocks);
        int m = 0;
        for (int j = 0; j < keep; j++) {
            int arg = -1;
            for (int i = 0; i < n; i++) {
                if (!chosen[i] && (arg < 0 || rank[i] > rank[arg])) {
                    arg = i;
                }
            }
            if (j >= SURE_BLOCKS && rank[arg] < min) {
                break;
            }
            chosen[arg] = true;
            m++;
        }
        return m;
    }

    @Override
    public String toString() {
        if (!digest) {
            return "exact";
        }
        return "digest:blocks=" + blocks + (parts == DEFAULT_PARTS ? "" : ",parts=" + parts)
                + (min == 0 ? "" : ",min=" + (min == Math.rint(min) ? String.valueOf((long) min) : String.valueOf(min)))
                + (bits == DEFAULT_BITS ? "" : ",bits=" + bits) + (perHead ? ",select=head" : "")
                + (slices == 0 ? "" : ",slices=" + slices) + (keys == 0 ? "" : ",keys=" + keys)
                + (sketch == 0 ? "" : ",sketch=" + sketch);
    }
}
