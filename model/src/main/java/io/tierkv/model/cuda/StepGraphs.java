package io.tierkv.model.cuda;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A decoder's captured decode steps ({@code -Dtierkv.cudaGraphs}), one graph per capture key of the KV store
 * ({@link CapturableKvStore#captureKey}: the launches a step makes depend on the host only through it).
 *
 * <p>At a key without a graph the step first runs launch by launch once (the attention's scratch and the kernels'
 * attributes settle outside any capture); at the next step with that key it is captured, and from then on launched as
 * one unit. Graphs are kept per key across sequences, the {@value #MAX} most recently launched, and all dropped when one
 * is stale (the device reallocated memory a graph holds). A capture the device refuses turns graphs off for good, with one
 * line on stderr: the decoder goes on launch by launch. Not thread-safe; one per decoder.
 */
final class StepGraphs implements AutoCloseable {
    /** Graphs kept at once: a tiered sequence passes through a key per block or move. */
    static final int MAX = 32;

    private final StepDevice device;
    private final Map<Object, StepDevice.StepGraph> captured = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Object, StepDevice.StepGraph> eldest) {
            if (size() <= MAX) {
                return false;
            }
            eldest.getValue().close(); // the least recently launched graph
            return true;
        }
    };                                 // by capture key, most recently launched last
    private boolean enabled;
    private Object eagerKey;           // the key of the last step run launch by launch
    private int captures;
    private long launches;

    StepGraphs(StepDevice device, boolean enabled) {
        this.device = device;
        this.enabled = enabled;
    }

    /** Whether steps go through graphs: configured so, and no capture was refused. */
    boolean enabled() {
        return enabled;
    }

    /**
     * Runs the step {@code body} (its values read from device memory the caller wrote) for capture key {@code key}: through
     * its graph, captured now if this key's previous step ran launch by launch, or launch by launch. True when a graph
     * captured at an earlier step was launched: the step's host-side bookkeeping, which a capture runs, did not run.
     */
    boolean run(Object key, Runnable body) {
        StepDevice.StepGraph graph = captured.get(key);
        if (graph != null && graph.stale()) {
            closeGraphs();
            graph = null;
        }
        boolean fresh = graph == null;
        if (fresh) {
            if (!key.equals(eagerKey)) {
                eagerKey = key;
                body.run();
                return false;
            }
            try {
                graph = device.capture(body);
            } catch (RuntimeException e) { // the driver's refusal, or a launch that would wait inside the capture
                enabled = false;
                closeGraphs();
                System.err.println("tierkv: the decode step could not be captured as a CUDA graph (" + e.getMessage()
                        + "); decoding launch by launch");
                body.run();
                return false;
            }
            captured.put(key, graph);
            captures++;
        }
        graph.launch();
        launches++;
        return !fresh;
    }

    /** A step without a key ran launch by launch (or a new sequence begins): the next key's first step runs so too. */
    void ranEagerly() {
        eagerKey = null;
    }

    /** Graphs captured so far (one per capture key, again after they went stale). */
    int captures() {
        return captures;
    }

    /** Steps run by launching a captured graph. */
    long launches() {
        return launches;
    }

    private void closeGraphs() {
        for (StepDevice.StepGraph g : captured.values()) {
            g.close();
        }
        captured.clear();
    }

    /** Frees the graphs; idempotent. */
    @Override
    public void close() {
        closeGraphs();
    }
}
