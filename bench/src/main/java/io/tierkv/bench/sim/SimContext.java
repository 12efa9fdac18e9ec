package io.tierkv.bench.sim;

import io.tierkv.core.Budget;
import io.tierkv.core.trace.TraceHeader;

/**
 * What a policy learns when a replay starts.
 *
 * @param header               the trace (layout, k, prompt length, steps)
 * @param budget               the device budget as given
 * @param budgetBlocks         device blocks over all layers, tail blocks included
 * @param capacity             device blocks a policy may fill: {@code budgetBlocks - layers}, since each
 *                             layer's tail block is always on the device
 * @param budgetTokensPerLayer the budget in tokens per layer, for policies that evict tokens
 * @param blocksPerLayer       blocks a layer holds at the end of the trace (ids are per layer and block)
 * @param residency            where blocks are; the only way to move them
 * @param future               the request stream's next uses, for the clairvoyant policy, else null
 */
public record SimContext(TraceHeader header, Budget budget, int budgetBlocks, int capacity, int budgetTokensPerLayer,
                         int blocksPerLayer, Residency residency, FutureIndex future) {

    public int layers() {
        return header.layers();
    }

    public int blockSize() {
        return header.layout().blockSize();
    }

    public int promptLength() {
        return header.promptLength();
    }

    /** Block ids: {@code [0, layers * blocksPerLayer)}. */
    public int blockIds() {
        return layers() * blocksPerLayer;
    }

    public int id(int layer, int block) {
        return layer * blocksPerLayer + block;
    }

    public int layerOf(int id) {
        return id / blocksPerLayer;
    }

    public int blockOf(int id) {
        return id % blocksPerLayer;
    }
}
