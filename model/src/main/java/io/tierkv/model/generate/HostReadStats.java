package io.tierkv.model.generate;

import java.util.Arrays;

/**
 * What the decode steps read from the host tier, per layer: host blocks read against the host blocks an
 * exact read would have read (the same steps, the same residency), and in digest mode the recall of the
 * selection: of the true top-k host positions of each query (head-averaged attention over the host
 * blocks, the policy's own signal), the share that lay in the selected blocks.
 */
public final class HostReadStats {
    /** (layer) host blocks read; a KV head's slice of a block counts 1/K ({@code select=head}). */
    private final double[] read;
    /** (layer) host blocks an exact read would have read. */
    private final long[] exact;
    /** (layer) true top-k host positions that lay in the selected blocks (a position counts the share of KV heads that read it). */
    private final double[] recallHits;
    /** (layer) true top-k host positions measured. */
    private final long[] recallTotal;
    private long steps;

    public HostReadStats(int layers) {
        read = new double[layers];
        exact = new long[layers];
        recallHits = new double[layers];
        recallTotal = new long[layers];
    }

    /** Counts one layer's read at one decode step: {@code blocksRead} of the {@code blocksExact} host blocks an exact read reads. */
    public void add(int layer, int blocksRead, int blocksExact) {
        add(layer, (double) blocksRead, blocksExact);
    }

    /** As {@link #add(int, int, int)}, {@code blocksRead} in blocks' worth of bytes (head slices of {@code 1/K} each). */
    public void add(int layer, double blocksRead, int blocksExact) {
        read[layer] += blocksRead;
        exact[layer] += blocksExact;
        if (layer == 0) {
            steps++;
        }
    }

    void addRecall(int layer, double hits, int total) {
        recallHits[layer] += hits;
        recallTotal[layer] += total;
    }

    /** Decode steps counted. */
    public long steps() {
        return steps;
    }

    /** Host blocks read, all layers (head slices summed into blocks' worth of bytes, rounded). */
    public long blocksRead() {
        return Math.round(Arrays.stream(read).sum());
    }

    /** Host blocks an exact read would have read, all layers. */
    public long blocksExact() {
        return Arrays.stream(exact).sum();
    }

    /** Host blocks read over what an exact read would read; 1 when nothing was on the host. */
    public double fraction() {
        long e = blocksExact();
        return e == 0 ? 1.0 : Arrays.stream(read).sum() / e;
    }

    /** Per layer, the recall of the digest selection; NaN for a layer never measured (exact mode, no host block skipped). */
    public double[] recallByLayer() {
        double[] r = new double[read.length];
        for (int l = 0; l < r.length; l++) {
            r[l] = recallTotal[l] == 0 ? Double.NaN : recallHits[l] / (double) recallTotal[l];
        }
        return r;
    }

    /** Recall over all layers; NaN when never measured. */
    public double recall() {
        long t = Arrays.stream(recallTotal).sum();
        return t == 0 ? Double.NaN : Arrays.stream(recallHits).sum() / (double) t;
    }

    /** Adds another run's counts (same layer count). */
    public void addAll(HostReadStats o) {
        for (int l = 0; l < read.length; l++) {
            read[l] += o.read[l];
            exact[l] += o.exact[l];
            recallHits[l] += o.recallHits[l];
            recallTotal[l] += o.recallTotal[l];
        }
        steps += o.steps;
    }

    /** A copy of the counts so far. */
    public HostReadStats copy() {
        HostReadStats c = new HostReadStats(read.length);
        c.addAll(this);
        return c;
    }

    /** The counts added since {@code earlier}, a {@link #copy} of these stats taken before. */
    public HostReadStats since(HostReadStats earlier) {
        HostReadStats d = copy();
        for (int l = 0; l < read.length; l++) {
            d.read[l] -= earlier.read[l];
            d.exact[l] -= earlier.exact[l];
            d.recallHits[l] -= earlier.recallHits[l];
            d.recallTotal[l] -= earlier.recallTotal[l];
        }
        d.steps -= earlier.steps;
        return d;
    }

    public int layers() {
        return read.length;
    }

    /** Per-layer recall as text, for example {@code 0.98 0.95 0.97 0.99} ({@code -} for a layer never measured). */
    public String recallText() {
        StringBuilder sb = new StringBuilder();
        for (double r : recallByLayer()) {
            sb.append(sb.length() == 0 ? "" : " ").append(Double.isNaN(r) ? "-" : String.format(java.util.Locale.ROOT, "%.3f", r));
        }
        return sb.toString();
    }
}
