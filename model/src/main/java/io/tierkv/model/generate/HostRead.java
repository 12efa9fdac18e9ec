package io.tierkv.model.generate;

import java.util.Locale;

/**
 * How a decode step reads the host tier: {@code exact} attends every host block; {@code digest} bounds every
 * host block's possible score from its {@link BlockDigests digest} and reads and attends only the
 * {@code blocks} host blocks per layer whose bound ranks highest (Quest's page selection). Parsed from the
 * command line's {@code --host-read exact|digest|digest:blocks=N}.
 *
 * @param digest true for sparse reads through the digests
 * @param blocks host blocks read per layer and decode step in digest mode ({@code >= 1})
 */
public record HostRead(boolean digest, int blocks) {
    /**
     * Host blocks per layer and step in digest mode by default. Measured on the bundled model at a 25% device
     * budget (bench/README.md, "Sparse host reads"): 1 block loses accuracy when the questions come first,
     * 2 blocks keep {@code full}'s accuracy while reading under 10% of the host bytes.
     */
    public static final int DEFAULT_BLOCKS = 2;

    /** Every host block, every step: today's behaviour. */
    public static final HostRead EXACT = new HostRead(false, 0);

    public HostRead {
        if (digest && blocks < 1) {
            throw new IllegalArgumentException("--host-read digest needs blocks >= 1, was " + blocks);
        }
    }

    /** {@code exact}, {@code digest} or {@code digest:blocks=N}. */
    public static HostRead parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("exact")) {
            return EXACT;
        }
        if (s.equals("digest")) {
            return new HostRead(true, DEFAULT_BLOCKS);
        }
        if (s.startsWith("digest:")) {
            int blocks = DEFAULT_BLOCKS;
            for (String option : s.substring("digest:".length()).split(",")) {
                String[] kv = option.split("=", 2);
                if (kv.length != 2 || !kv[0].trim().equals("blocks")) {
                    throw new IllegalArgumentException("--host-read " + spec + ": unknown option '" + option
                            + "' (digest takes blocks=N)");
                }
                try {
                    blocks = Integer.parseInt(kv[1].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--host-read " + spec + ": blocks must be an integer, was '" + kv[1] + "'");
                }
            }
            return new HostRead(true, blocks);
        }
        throw new IllegalArgumentException("--host-read must be exact, digest or digest:blocks=N, was '" + spec + "'");
    }

    @Override
    public String toString() {
        return digest ? "digest:blocks=" + blocks : "exact";
    }
}
