package io.tierkv.bench.jmh;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Moving KV blocks between two off-heap arenas, the CPU mode's device-to-host copy: a batch of
 * {@code blocks} blocks of {@code blockBytes} (256 KiB = one 16-token block of Llama-2-7B in fp16)
 * copied from one arena to scattered slots of another, by {@code memcpy} (Agrona's
 * {@link UnsafeBuffer#putBytes}, i.e. {@code Unsafe.copyMemory}), by {@code ByteBuffer.put} between
 * direct buffers, and by {@code System.arraycopy} on heap arrays as the JVM's own bound. The tiering
 * module's asynchronous copy engine (branch {@code tiering}) was not merged when this was written;
 * add it as another {@link Impl} against the same arenas once it is.
 *
 * <p>Bytes per second = {@code blocks * blockBytes / score}. Run: {@code mvn -B -o -q -Pjmh -DskipTests package}, then
 * {@code java -cp "bench/target/tierkv.jar:bench/target/lib/*" org.openjdk.jmh.Main CopyBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED"})
public class CopyBenchmark {
    /** How the bytes move. */
    public enum Impl { UNSAFE_MEMCPY, BYTEBUFFER_PUT, HEAP_ARRAYCOPY }

    @Param({"UNSAFE_MEMCPY", "BYTEBUFFER_PUT", "HEAP_ARRAYCOPY"})
    Impl impl;

    @Param({"262144"})
    int blockBytes;

    /** Blocks per call (one window's demotions for a few layers). */
    @Param({"16"})
    int blocks;

    /** Slots per arena; sources and targets are spread over them so caches do not hold a batch. */
    private static final int SLOTS = 256;

    /** (SLOTS * blockBytes) bytes, direct: the source arena. */
    private ByteBuffer source;
    /** (SLOTS * blockBytes) bytes, direct: the target arena. */
    private ByteBuffer target;
    private UnsafeBuffer sourceView;
    private UnsafeBuffer targetView;
    /** (SLOTS * blockBytes) bytes on the heap, for the arraycopy bound. */
    private byte[] heapSource;
    private byte[] heapTarget;
    private int next;

    @Setup
    public void setup() {
        long bytes = (long) SLOTS * blockBytes;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("blockBytes " + blockBytes + " x " + SLOTS + " slots exceeds one buffer");
        }
        if (impl == Impl.HEAP_ARRAYCOPY) {
            heapSource = new byte[(int) bytes];
            heapTarget = new byte[(int) bytes];
            java.util.Arrays.fill(heapSource, (byte) 7);
        } else {
            source = ByteBuffer.allocateDirect((int) bytes);
            target = ByteBuffer.allocateDirect((int) bytes);
            sourceView = new UnsafeBuffer(source);
            targetView = new UnsafeBuffer(target);
            sourceView.setMemory(0, (int) bytes, (byte) 7);
        }
    }

    @Benchmark
    public int copy() {
        int moved = 0;
        for (int i = 0; i < blocks; i++) {
            int from = (next * 37 % SLOTS) * blockBytes;
            int to = (next * 101 % SLOTS) * blockBytes;
            next++;
            switch (impl) {
                case UNSAFE_MEMCPY:
                    targetView.putBytes(to, sourceView, from, blockBytes);
                    break;
                case BYTEBUFFER_PUT:
                    target.put(to, source, from, blockBytes);
                    break;
                default:
                    System.arraycopy(heapSource, from, heapTarget, to, blockBytes);
                    break;
            }
            moved += blockBytes;
        }
        return moved;
    }
}
