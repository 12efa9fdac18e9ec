package io.tierkv.model.cuda;

import java.util.Locale;

/**
 * Where a decode step's wall time goes on the host, summed over the steps since {@link #clear()}: the store's append (the
 * sequence's placement, the block tables and their upload), queueing the step's kernels, waiting for the device (the one
 * synchronising read back of the step: the top-k, or the token), the policy's observation of what came back, and the
 * store's step (a window closing, the placement's moves started, finished copies reaped). Steps only: prefill is not
 * counted. What the device does while the host queues is in the wait; what the host does while the device is idle is
 * in the other four, so a tiered step's overhead over a step on the device alone shows here by phase. (With the host
 * tier attended on the CPU, that attention and its waits are in the launch.)
 */
public final class StepPhases {
    /** A step's phases, in order. */
    public enum Phase {
        APPEND("append"),
        LAUNCH("launch"),
        DEVICE_WAIT("device wait"),
        OBSERVE("observe"),
        STEP("step");

        private final String label;

        Phase(String label) {
            this.label = label;
        }
    }

    private final long[] nanos = new long[Phase.values().length];
    private long steps;

    void add(Phase phase, long ns) {
        nanos[phase.ordinal()] += ns;
    }

    void stepEnded() {
        steps++;
    }

    /** Steps timed since the last {@link #clear()}. */
    public long steps() {
        return steps;
    }

    /** Mean microseconds per step in {@code phase}; 0 before any step. */
    public double micros(Phase phase) {
        return steps == 0 ? 0 : nanos[phase.ordinal()] / 1e3 / steps;
    }

    public void clear() {
        java.util.Arrays.fill(nanos, 0);
        steps = 0;
    }

    /** For example {@code append 3.1, launch 40.2, device wait 310.5, observe 20.0, step 12.7 us/token}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        for (Phase p : Phase.values()) {
            s.append(s.length() == 0 ? "" : ", ").append(p.label).append(String.format(Locale.ROOT, " %.1f", micros(p)));
        }
        return s.append(" us/token").toString();
    }
}
