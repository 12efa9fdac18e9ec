package io.tierkv.model.cuda;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A diagnostic ({@code -Dtierkv.opTimes=true}): the time of each kind of {@link StepDevice} operation (a kernel's launch
 * method, an upload), measured by waiting for the device before and after each one, so that an operation's time is its
 * launch, its run on the device and one wait. It serialises the host and the device, so the steps get slower; what it
 * gives is which kernels a step's device time is made of, where no profiler is at hand. CUDA graphs are off under it.
 * Not thread-safe (a decoder runs one step at a time).
 */
public final class OpTimes {
    /** Operations not timed: allocation, the read backs (which wait by definition), capture, bookkeeping. */
    private static final Set<String> UNTIMED = Set.of("alloc", "download", "downloadRows", "external", "synchronize", "capture",
            "allocatedBytes", "close", "digests", "free", "equals", "hashCode", "toString");

    private final Map<String, long[]> byOp = new HashMap<>(); // name -> {nanos, calls}

    /** Whether {@code -Dtierkv.opTimes=true} asks decoders to time their operations. */
    public static boolean configured() {
        return "true".equalsIgnoreCase(System.getProperty("tierkv.opTimes", "false").trim());
    }

    /** {@code device} with every timed operation waited for before and after, and its time added here. */
    StepDevice wrap(StepDevice device) {
        return (StepDevice) Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class},
                (proxy, method, args) -> {
                    String name = method.getName();
                    boolean timed = !UNTIMED.contains(name);
                    long t0 = 0;
                    if (timed) {
                        device.synchronize();
                        t0 = System.nanoTime();
                    }
                    Object result;
                    try {
                        result = method.invoke(device, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (timed) {
                        device.synchronize();
                        long[] t = byOp.computeIfAbsent(name, k -> new long[2]);
                        t[0] += System.nanoTime() - t0;
                        t[1]++;
                    }
                    return result;
                });
    }

    /** Forgets what was timed (a new generation's steps start). */
    void clear() {
        byOp.clear();
    }

    /**
     * The operations by time, most first, per token over {@code tokens}: for example {@code attend 120.5 us (12.0 calls),
     * gemv 80.1 us (24.0 calls), ...}.
     */
    public String report(long tokens) {
        List<Map.Entry<String, long[]>> ops = new ArrayList<>(byOp.entrySet());
        ops.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
        double per = Math.max(1, tokens);
        StringBuilder s = new StringBuilder();
        for (Map.Entry<String, long[]> e : ops) {
            s.append(s.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%s %.1f us (%.1f calls)", e.getKey(),
                    e.getValue()[0] / 1e3 / per, e.getValue()[1] / per));
        }
        return s.length() == 0 ? "nothing timed" : s.append(" per token").toString();
    }
}
