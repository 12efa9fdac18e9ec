package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import io.tierkv.core.trace.TraceStep;
import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.ops.PagedKvShape;

/**
 * The host side of a tiered CUDA decode step without its kernels, for benchmarks: a {@link TieredKvStore} over the host
 * mirror of the device and CPU tiers, whose {@link #token} appends one token (the sequence's placement and copies, the
 * block tables kept or rebuilt, what changed uploaded), gives a policy that counts the top-k ({@code hierarchical}) each
 * layer's k selected positions as the device's top-k would ({@link TieredKvStore#observeSelected}; here drawn, not
 * computed, by core's {@link SyntheticTrace} with its defaults: sinks, recent tokens, a drifting Zipf-ranked popular set,
 * rare recalls of old tokens), and steps the policy. Nothing is
 * attended, and the one device operation the step issues outside its kernels, zeroing the probability rows the next
 * step's attention writes ({@link StepDevice#fillRows}: a memset on the GPU, 25 MB a token for 32 layers at 6144 tokens,
 * which the mirror would do on the CPU), is left out: it is device time. The tiers' block copies run on the CPU copy
 * engine's thread. The KV shape is a Llama 3 8B's (32 heads, 8 KV heads of 128, BF16, blocks of 16 tokens).
 */
public final class TieredStepBookkeeping implements AutoCloseable {
    private final HostStepDevice device;
    private final TieredKvStore store;
    private final int prompt;
    private final int maxTokens;
    private final int topK;          // positions a layer's query selects per step; 0 when the policy counts no top-k
    private final KvLayout layout;
    private SyntheticTrace trace;    // the top-k positions of the steps since the prompt; null when topK is 0
    private TraceStep selected;
    private final long[] phaseNanos = new long[3]; // in token(): the append, the top-k observed, the step
    private long stallOutsideTokens; // copy waits of the prompts (the tiers count them all; a stats() snapshot per token costs)
    private long tokens;             // token() calls timed

    /**
     * Opens the store, {@code deviceBlocksPerLayer} device blocks per layer, and appends a {@code prompt} tokens long prompt.
     *
     * @param policy a policy spec ({@code full}, {@code hierarchical}, ...)
     */
    public TieredStepBookkeeping(int layers, int maxTokens, int deviceBlocksPerLayer, String policy, int prompt) {
        if (prompt < 1 || prompt >= maxTokens) {
            throw new IllegalArgumentException("the prompt of " + prompt + " tokens must leave room below maxTokens " + maxTokens);
        }
        Policies.create(policy); // an unknown name fails here, by name
        PagedKvShape shape = new PagedKvShape(DType.BF16, 32, 8, 128, 16, 2L * 16 * 8 * 128 * 2);
        this.device = new HostStepDevice();
        try {
            this.store = TieredKvStore.open(withoutDeviceWork(device), shape, layers, maxTokens, Backend.CPU, deviceBlocksPerLayer,
                    () -> Policies.create(policy));
        } catch (RuntimeException | Error e) {
            device.close();
            throw e;
        }
        this.prompt = prompt;
        this.maxTokens = maxTokens;
        KvPolicy probe = Policies.create(policy);
        this.topK = probe.observesAttention() ? probe.observedTopK() : 0;
        this.layout = new KvLayout(layers, shape.kvHeads(), shape.headDim(), shape.dtype(), shape.blockSize());
        prefill();
    }

    /** {@code device} with {@link StepDevice#fillRows} left out (device time, not the host's); every other call passed on. */
    private static StepDevice withoutDeviceWork(StepDevice device) {
        return (StepDevice) java.lang.reflect.Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("fillRows")) {
                        return null;
                    }
                    try {
                        return method.invoke(device, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private void prefill() {
        long stalled = store.tiers().stats().stallNanos();
        for (int t = 0; t < prompt; t++) {
            store.append();
        }
        store.endPrefill();
        stallOutsideTokens += store.tiers().stats().stallNanos() - stalled;
        if (topK > 0) { // the same draws after every restart
            trace = new SyntheticTrace(SyntheticTraceConfig.defaults(prompt, maxTokens - prompt, 42).withLayout(layout).withTopK(topK));
            selected = new TraceStep(layout.layers(), topK);
        }
    }

    /** Tokens {@link #token} can still append before {@code maxTokens}. */
    public int room() {
        return maxTokens - store.tokens();
    }

    /** Starts over: a new sequence, the prompt appended again. */
    public void restart() {
        long stalled = store.tiers().stats().stallNanos();
        store.reset();
        stallOutsideTokens += store.tiers().stats().stallNanos() - stalled;
        prefill();
    }

    /** One generated token's bookkeeping; returns its position. */
    public int token() {
        if (room() == 0) {
            throw new IllegalStateException("the sequence is at maxTokens " + maxTokens + ": restart() first");
        }
        long t0 = System.nanoTime();
        int position = store.append();
        long t1 = System.nanoTime();
        if (trace != null) {
            if (!trace.next(selected)) {
                throw new IllegalStateException("the synthetic trace ended at step " + selected.step() + " before maxTokens");
            }
            for (int l = 0; l < layout.layers(); l++) { // ascending, as the device's top-k hands them over
                store.observeSelected(l, selected.positions(l), selected.count(l));
            }
        }
        long t2 = System.nanoTime();
        store.step();
        long t3 = System.nanoTime();
        phaseNanos[0] += t1 - t0;
        phaseNanos[1] += t2 - t1;
        phaseNanos[2] += t3 - t2;
        tokens++;
        return position;
    }

    /**
     * Microseconds per {@link #token} so far, by phase: the append (placement, tables), the top-k observed (policy and
     * placement requests; the trace's draw included), the step (windows, moves); and of these, the time the tiers waited for
     * copies.
     */
    public String phases() {
        double n = Math.max(1, tokens);
        return String.format(java.util.Locale.ROOT, "append %.1f us, observe %.1f us, step %.1f us per token; copy waits %.1f us",
                phaseNanos[0] / 1e3 / n, phaseNanos[1] / 1e3 / n, phaseNanos[2] / 1e3 / n,
                (store.tiers().stats().stallNanos() - stallOutsideTokens) / 1e3 / n);
    }

    /** Blocks copied to the device tier so far (promotions). */
    public long promotedBlocks() {
        return store.tiers().stats().h2dBlocks();
    }

    /** Layers whose block tables were rebuilt from their views so far (the rest kept theirs). */
    public long layerBuilds() {
        return store.layerBuilds();
    }

    @Override
    public void close() {
        try {
            store.close();
        } finally {
            device.close();
        }
    }
}
