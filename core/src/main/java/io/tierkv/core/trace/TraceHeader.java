package io.tierkv.core.trace;

import io.tierkv.core.KvLayout;
import java.nio.charset.StandardCharsets;

/**
 * What a trace says about itself: the model's KV layout (for bytes per block), how many positions each
 * layer's top-k holds, the prompt length and the number of generated tokens (steps).
 *
 * @param layout       layers, KV heads, head dimension, dtype and block size of the traced model
 * @param topK         the most positions one layer of one step holds
 * @param promptLength tokens before the first generated one
 * @param steps        generated tokens, or {@link TraceDescriptor#STEPS_UNKNOWN} for a writer that
 *                     learns it on close
 * @param source       what produced the trace (generator and seed, or model), at most 1024 UTF-8 bytes
 * @param prefill      (layer, prompt block) how many top-k positions of the prompt's own queries (its last
 *                     rows: SnapKV's observation window) fell in each prompt block; null when the trace has
 *                     none (format version 1). A placement seeds block values with it.
 */
public record TraceHeader(KvLayout layout, int topK, int promptLength, int steps, String source, int[][] prefill) {

    /** A header without prefill attention. */
    public TraceHeader(KvLayout layout, int topK, int promptLength, int steps, String source) {
        this(layout, topK, promptLength, steps, source, null);
    }

    public TraceHeader {
        if (layout == null) {
            throw new IllegalArgumentException("layout must not be null");
        }
        if (topK <= 0) {
            throw new IllegalArgumentException("topK must be > 0, was " + topK);
        }
        if (promptLength < 0) {
            throw new IllegalArgumentException("promptLength must be >= 0, was " + promptLength);
        }
        if (steps < 0 && steps != TraceDescriptor.STEPS_UNKNOWN) {
            throw new IllegalArgumentException("steps must be >= 0, was " + steps);
        }
        if ((long) promptLength + Math.max(steps, 0) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("promptLength + steps overflows an int: " + promptLength + " + " + steps);
        }
        source = source == null ? "" : source;
        if (source.getBytes(StandardCharsets.UTF_8).length > TraceDescriptor.MAX_SOURCE_BYTES) {
            throw new IllegalArgumentException("source must be at most " + TraceDescriptor.MAX_SOURCE_BYTES + " UTF-8 bytes");
        }
        if (prefill != null) {
            if (prefill.length != layout.layers()) {
                throw new IllegalArgumentException("prefill has " + prefill.length + " layers, the layout " + layout.layers());
            }
            int blocks = layout.blocksFor(promptLength);
            for (int l = 0; l < prefill.length; l++) {
                if (prefill[l] == null || (prefill[l].length != 0 && prefill[l].length != blocks)) {
                    throw new IllegalArgumentException("prefill layer " + l + " must hold 0 or " + blocks + " prompt blocks, holds "
                            + (prefill[l] == null ? "null" : prefill[l].length));
                }
                for (int c : prefill[l]) {
                    if (c < 0) {
                        throw new IllegalArgumentException("prefill layer " + l + " has a negative count " + c);
                    }
                }
            }
        }
    }

    /** True if the trace carries the prompt's own attention per prompt block. */
    public boolean hasPrefill() {
        return prefill != null;
    }

    /** The prefill counts of one layer's prompt blocks (empty when the trace has none). */
    public int[] prefillCounts(int layer) {
        return prefill == null ? new int[0] : prefill[layer];
    }

    /** The same header with prefill counts. */
    public TraceHeader withPrefill(int[][] counts) {
        return new TraceHeader(layout, topK, promptLength, steps, source, counts);
    }

    public int layers() {
        return layout.layers();
    }

    /** Tokens in the sequence after the last step: the prompt plus every generated token. */
    public int finalLength() {
        return promptLength + Math.max(steps, 0);
    }

    /** The same header with another step count. */
    public TraceHeader withSteps(int n) {
        return new TraceHeader(layout, topK, promptLength, n, source, prefill);
    }

    /** Equal when every field is, the prefill counts compared by content. */
    @Override
    public boolean equals(Object o) {
        return o instanceof TraceHeader h && layout.equals(h.layout) && topK == h.topK && promptLength == h.promptLength
                && steps == h.steps && source.equals(h.source) && java.util.Arrays.deepEquals(prefill, h.prefill);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(layout, topK, promptLength, steps, source, java.util.Arrays.deepHashCode(prefill));
    }

    /** A fresh step buffer sized for this trace. */
    public TraceStep newStep() {
        return new TraceStep(layout.layers(), topK);
    }
}
