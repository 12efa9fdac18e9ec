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
 */
public record TraceHeader(KvLayout layout, int topK, int promptLength, int steps, String source) {

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
        return new TraceHeader(layout, topK, promptLength, n, source);
    }

    /** A fresh step buffer sized for this trace. */
    public TraceStep newStep() {
        return new TraceStep(layout.layers(), topK);
    }
}
