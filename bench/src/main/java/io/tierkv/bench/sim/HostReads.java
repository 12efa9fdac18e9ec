package io.tierkv.bench.sim;

import io.tierkv.model.generate.HostRead;

/**
 * The simulator's host read model, the decoder's ({@code --host-read}) replayed on a trace: at each step
 * every layer's attention reads host blocks over the host link. In {@code exact} mode it reads every host
 * block of the layer; in {@code digest:blocks=N} mode it reads {@code min(N, host blocks)}: the real decoder
 * ranks host blocks by a bound of {@code q . k} from their key digests, which a trace cannot recompute
 * (it holds top-k positions, not queries or keys), so the model assumes the digest ranks the requested host
 * blocks first: the layer's requested host blocks are read up to {@code N}, the rest of the {@code N} are
 * other host blocks. A requested host block beyond the {@code N} is <em>skipped</em> (counted, not read).
 * Skipped blocks cost nothing; the policy still sees every request, as it does in the trace.
 *
 * <p>With {@code select=head} a KV head's slice of a block is read at a time: {@code min(S, host blocks x K)} slices
 * per layer and step, counted in blocks' worth of bytes ({@code 1/K} a slice; the remainder carried to the next
 * step, so the total is exact to under one block). Neither mode's {@code min=R} can be replayed without queries:
 * the model reads up to the cap.
 *
 * <p>Bytes per token agree with a real run of the same trace and mode as long as the host block counts
 * agree, since both read {@code min(N, host blocks)} per layer and step.
 */
final class HostReads {
    private final HostRead mode;
    private final SimContext ctx;
    private final SimStats stats;
    /** {@code select=head}: head slices read but not yet counted as a whole block. */
    private long sliceRemainder;

    HostReads(HostRead mode, SimContext ctx, SimStats stats) {
        this.mode = mode;
        this.ctx = ctx;
        this.stats = stats;
    }

    /**
     * Counts one layer's host reads at one step, before its requests are served (attention reads, then the
     * placement reacts to what it read).
     *
     * @param positions the layer's top-k positions at this step, ascending ({@code n} of them)
     * @param tail      the tail block (on the device, not counted)
     */
    void step(int layer, int[] positions, int n, int tail) {
        Residency residency = ctx.residency();
        int blockSize = ctx.blockSize();
        int requestedHost = 0;
        int previous = -1;
        for (int i = 0; i < n; i++) {
            int b = positions[i] / blockSize;
            if (b != previous && b < tail && residency.where(ctx.id(layer, b)) == Residency.HOST) {
                requestedHost++;
            }
            previous = b;
        }
        int host = 0;
        for (int b = 0; b < tail; b++) {
            if (residency.where(ctx.id(layer, b)) == Residency.HOST) {
                host++;
            }
        }
        int read;
        if (mode.digest() && mode.perHead()) {
            int k = ctx.header().layout().kvHeads();
            sliceRemainder += Math.min((long) mode.slicesFor(k), (long) host * k);
            read = (int) (sliceRemainder / k);
            sliceRemainder %= k;
        } else {
            read = mode.digest() ? Math.min(mode.blocks(), host) : host;
        }
        stats.hostBlocksExact += host;
        stats.hostBlocksRead += read;
        if (mode.digest()) {
            stats.skippedRequests += Math.max(0, requestedHost - (mode.perHead()
                    ? mode.slicesFor(ctx.header().layout().kvHeads()) / ctx.header().layout().kvHeads() : mode.blocks()));
        }
    }
}
