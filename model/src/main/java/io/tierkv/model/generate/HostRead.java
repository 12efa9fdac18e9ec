package io.tierkv.model.generate;

import java.util.Locale;

/**
 * How a decode step reads the host tier: {@code exact} attends every host block; {@code digest} bounds every
 * host block's possible score from its {@link BlockDigests digest} and reads and attends only the
 * {@code blocks} host blocks per layer whose bound ranks highest (Quest's page selection). Parsed from the
 * command line's {@code --host-read exact|digest|digest:blocks=N[,parts=P][,min=R]}.
 *
 * @param digest true for sparse reads through the digests
 * @param blocks host blocks read per layer and decode step in digest mode ({@code >= 1})
 * @param parts  sub-blocks per block digest ({@link BlockDigests}; 1 is Quest's)
 * @param min    a block past the first {@link #SURE_BLOCKS} is read only when its rank ({@link HostBlockSelector}: the
 *               most weight one of its keys could have relative to the best host block, summed over heads) reaches
 *               {@code min}; 0 reads all {@code blocks}
 */
public record HostRead(boolean digest, int blocks, int parts, double min) {
    /** Blocks read whatever their rank when {@code min} is set. */
    public static final int SURE_BLOCKS = 2;

    /**
     * Host blocks per layer and step in digest mode by default. Measured on the bundled model at a 25% device
     * budget (README, "Sparse host reads"): the most blocks that read under 10% of the host bytes (7.7%);
     * {@code hierarchical} then scores 96.9 / 93.1% against 99.4 / 99.4% with exact reads (1 block: 87.5 / 84.4%,
     * 4 blocks: 98.8 / 97.5% at 15%).
     */
    public static final int DEFAULT_BLOCKS = 2;

    /** Every host block, every step: today's behaviour. */
    public static final HostRead EXACT = new HostRead(false, 0, 1, 0);

    /** Sub-blocks per digest by default. */
    public static final int DEFAULT_PARTS = 1;

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
    }

    /** Digest mode reading {@code blocks} blocks of {@code parts}-part digests, whatever their rank. */
    public HostRead(boolean digest, int blocks, int parts) {
        this(digest, blocks, parts, 0);
    }

    /** Digest mode reading {@code blocks} host blocks per layer and step, with the default digest. */
    public static HostRead digest(int blocks) {
        return new HostRead(true, blocks, DEFAULT_PARTS);
    }

    /** {@code exact}, {@code digest} or {@code digest:blocks=N}. */
    public static HostRead parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("exact")) {
            return EXACT;
        }
        if (s.equals("digest")) {
            return digest(DEFAULT_BLOCKS);
        }
        if (s.startsWith("digest:")) {
            int blocks = DEFAULT_BLOCKS;
            int parts = DEFAULT_PARTS;
            double min = 0;
            for (String option : s.substring("digest:".length()).split(",")) {
                String[] kv = option.split("=", 2);
                String key = kv[0].trim();
                if (kv.length != 2 || !(key.equals("blocks") || key.equals("parts") || key.equals("min"))) {
                    throw new IllegalArgumentException("--host-read " + spec + ": unknown option '" + option
                            + "' (digest takes blocks=N, parts=P and min=R)");
                }
                if (key.equals("min")) {
                    try {
                        min = Double.parseDouble(kv[1].trim());
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--host-read " + spec + ": min must be a number, was '" + kv[1] + "'");
                    }
                    continue;
                }
                int v;
                try {
                    v = Integer.parseInt(kv[1].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--host-read " + spec + ": " + key + " must be an integer, was '" + kv[1] + "'");
                }
                if (key.equals("blocks")) {
                    blocks = v;
                } else {
                    parts = v;
                }
            }
            return new HostRead(true, blocks, parts, min);
        }
        throw new IllegalArgumentException("--host-read must be exact, digest or digest:blocks=N, was '" + spec + "'");
    }

    /**
     * Marks in {@code chosen} the host blocks to read from their ranks ({@code DigestMirror.rank} of {@code n} blocks):
     * the {@link #blocks()} highest (the lowest index first on a tie), past {@link #SURE_BLOCKS} only those reaching
     * {@link #min()}; returns how many. The one selection rule of both backends' digest reads.
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
        return digest ? "digest:blocks=" + blocks + (parts == DEFAULT_PARTS ? "" : ",parts=" + parts)
                + (min == 0 ? "" : ",min=" + (min == Math.rint(min) ? String.valueOf((long) min) : String.valueOf(min))) : "exact";
    }
}
