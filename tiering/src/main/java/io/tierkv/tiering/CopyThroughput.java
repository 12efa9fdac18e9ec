package io.tierkv.tiering;

import io.tierkv.core.KvLayout;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.tiering.arena.DeviceSlab;
import io.tierkv.tiering.arena.PinnedSlab;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyDirection;
import io.tierkv.tiering.copy.CopyEngine;
import io.tierkv.tiering.copy.CopyStats;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.agrona.UnsafeApi;

/**
 * Moves whole arenas of blocks through the copy engine, device to host and back, and measures the same bytes
 * with one plain copy per arena in the same run: {@code Unsafe.copyMemory} on one thread (the JVM's memcpy)
 * in the CPU mode, one synchronous {@code cuMemcpy} per arena on CUDA (the bus's own limit). Each round runs
 * both, in alternating order, so that both see the same machine; medians over rounds are reported, since a
 * shared machine makes single rounds noisy. Two engine figures:
 * <ul>
 *   <li>coalesced: every slot staged in a random order to the same slot index on the other side; the engine
 *       sorts and merges them into runs of at most {@code maxRunBytes};</li>
 *   <li>scattered: destinations a random permutation, so (almost) every block is its own copy: per-block
 *       overhead and scattered access, the worst case.</li>
 * </ul>
 * After the rounds, a sample of slots proves both directions: the host slots must hold what the last scattered
 * demotion put there, and device slots zeroed and then promoted back must hold their original bytes.
 */
public final class CopyThroughput {
    private CopyThroughput() {
    }

    /**
     * What to measure.
     *
     * @param layout            the KV layout whose block is the unit copied
     * @param backend           CPU or CUDA
     * @param arenaBytes        bytes of each arena (a whole number of blocks)
     * @param bytesPerDirection at least this many bytes move each way per round (whole arenas)
     * @param maxRunBytes       the longest coalesced copy
     * @param rounds            measuring rounds (the median is reported)
     */
    public record Options(KvLayout layout, Backend backend, long arenaBytes, long bytesPerDirection, long maxRunBytes, int rounds) {
        public Options {
            if (rounds <= 0) {
                throw new IllegalArgumentException("rounds must be > 0, was " + rounds);
            }
            if (bytesPerDirection <= 0) {
                throw new IllegalArgumentException("bytes must be > 0, was " + bytesPerDirection);
            }
            if (maxRunBytes < layout.blockBytes()) {
                throw new IllegalArgumentException("maxRunBytes = " + maxRunBytes + " is less than one block of " + layout.blockBytes() + " bytes");
            }
        }
    }

    /**
     * The figures, in GB/s (10^9 bytes per second) over both directions; per-round values in the arrays.
     *
     * @param ratio          median over rounds of (engine / memcpy) in that round: each round measures both
     *                       back to back per direction, so a drifting machine load cancels within a pair
     * @param copies         coalesced copy operations in the measured rounds ({@code meanCopyBytes} their mean size)
     * @param copyStats      the engine's counters over the whole run: warm-up, scattered and verification included
     * @param engineBusyGBps coalesced bytes over the time the engine itself spent copying (copy thread or CUDA
     *                       events): the engine's rate without the gaps between copies
     */
    public record Result(String backend, String engine, long blockBytes, long arenaBytes, long bytes, int passes, int rounds,
                         long maxRunBytes, double engineGBps, double memcpyGBps, double ratio, double engineBestGBps,
                         double memcpyBestGBps, double scatteredGBps, double engineD2hGBps, double engineH2dGBps,
                         double engineBusyGBps,
                         double[] engineRoundsGBps, double[] memcpyRoundsGBps, double[] ratioRounds, double[] scatteredRoundsGBps,
                         long copies, double meanCopyBytes, long failedCopies, int verifiedSlots, CopyStats copyStats) {
    }

    /** Runs the benchmark, logging one line per round to {@code log}. */
    public static Result measure(Options o, PrintStream log) {
        TierConfig config = TierConfig.builder(o.layout()).backend(o.backend()).deviceCapacityBytes(o.arenaBytes())
                .hostCapacityBytes(o.arenaBytes())
                .maxRunBlocks((int) Math.max(1, Math.min(Integer.MAX_VALUE, o.maxRunBytes() / o.layout().blockBytes())))
                .maxInFlightCopies(TierDefaults.MAX_IN_FLIGHT_COPIES).build();
        long[] failures = new long[1];
        try (TierMemory memory = TierMemory.open(config, (d, s, t, n, ok) -> failures[0] += ok ? 0 : 1)) {
            return new Run(o, memory, log).measure(failures);
        }
    }

    /** One benchmark run over one pair of arenas. */
    private static final class Run {
        private final Options o;
        private final TierMemory memory;
        private final PrintStream log;
        private final SlotArena device;
        private final SlotArena host;
        private final CopyEngine engine;
        private final int slots;
        private final int passes;
        private final long bytes;
        private final SplittableRandom random = new SplittableRandom(2024);
        private final int[] order;
        private final int[] scatter;

        Run(Options o, TierMemory memory, PrintStream log) {
            this.o = o;
            this.memory = memory;
            this.log = log;
            this.device = memory.device();
            this.host = memory.host();
            this.engine = memory.engine();
            this.slots = device.capacity();
            this.passes = (int) Math.max(1, (o.bytesPerDirection() + o.arenaBytes() - 1) / o.arenaBytes());
            this.bytes = passes * o.arenaBytes();
            this.order = permutation();
            this.scatter = permutation();
        }

        Result measure(long[] failures) {
            fill();
            double[] engineRounds = new double[o.rounds()];
            double[] memcpyRounds = new double[o.rounds()];
            double[] scatterRounds = new double[o.rounds()];
            double d2h = 0;
            double h2d = 0;
            long busyBytes = 0;
            long busyNanos = 0;
            long coalescedCopies = 0;
            double[] ratios = new double[o.rounds()];
            warmUp();
            for (int r = 0; r < o.rounds(); r++) {
                boolean memcpyFirst = r % 2 == 0;
                CopyStats before = engine.stats();
                long md;
                long ed;
                long mh;
                long eh;
                if (memcpyFirst) {
                    md = baseline(CopyDirection.DEVICE_TO_HOST);
                    ed = engineDirection(CopyDirection.DEVICE_TO_HOST, false);
                    eh = engineDirection(CopyDirection.HOST_TO_DEVICE, false);
                    mh = baseline(CopyDirection.HOST_TO_DEVICE);
                } else {
                    ed = engineDirection(CopyDirection.DEVICE_TO_HOST, false);
                    md = baseline(CopyDirection.DEVICE_TO_HOST);
                    mh = baseline(CopyDirection.HOST_TO_DEVICE);
                    eh = engineDirection(CopyDirection.HOST_TO_DEVICE, false);
                }
                CopyStats after = engine.stats();
                busyBytes += 2 * bytes;
                busyNanos += after.d2hNanos() + after.h2dNanos() - before.d2hNanos() - before.h2dNanos();
                coalescedCopies += after.d2hCopies() + after.h2dCopies() - before.d2hCopies() - before.h2dCopies();
                engineRounds[r] = gbps(2 * bytes, ed + eh);
                memcpyRounds[r] = gbps(2 * bytes, md + mh);
                ratios[r] = engineRounds[r] / memcpyRounds[r];
                d2h = Math.max(d2h, gbps(bytes, ed));
                h2d = Math.max(h2d, gbps(bytes, eh));
                long s0 = System.nanoTime();
                engineDirection(CopyDirection.DEVICE_TO_HOST, true);
                engineDirection(CopyDirection.HOST_TO_DEVICE, true);
                scatterRounds[r] = gbps(2 * bytes, System.nanoTime() - s0);
                log.printf("round %d: engine %.2f GB/s, memcpy %.2f GB/s (ratio %.2f), scattered %.2f GB/s%n", r + 1, engineRounds[r],
                        memcpyRounds[r], ratios[r], scatterRounds[r]);
            }
            CopyStats stats = engine.stats();
            int verified = verify();
            double engineMedian = median(engineRounds);
            double memcpyMedian = median(memcpyRounds);
            return new Result(o.backend().name().toLowerCase(java.util.Locale.ROOT), engine.name(), o.layout().blockBytes(), o.arenaBytes(),
                    bytes, passes, o.rounds(), o.maxRunBytes(), engineMedian, memcpyMedian, median(ratios),
                    max(engineRounds), max(memcpyRounds), median(scatterRounds), d2h, h2d, gbps(busyBytes, busyNanos),
                    engineRounds, memcpyRounds, ratios, scatterRounds,
                    coalescedCopies, (double) busyBytes / coalescedCopies, failures[0], verified, stats);
        }

        /**
         * Moves the whole arena {@code passes} times one way; returns nanoseconds. Each pass is staged and
         * flushed without waiting for the previous one, as the tier manager submits a step's copies; the
         * direction is drained at the end.
         */
        private long engineDirection(CopyDirection direction, boolean scattered) {
            long t0 = System.nanoTime();
            for (int p = 0; p < passes; p++) {
                for (int i = 0; i < slots; i++) {
                    int src = order[i];
                    if (!scattered) {
                        engine.stage(direction, src, src);
                    } else if (direction == CopyDirection.DEVICE_TO_HOST) {
                        engine.stage(direction, src, scatter[src]);
                    } else {
                        engine.stage(direction, scatter[src], src);
                    }
                }
                engine.flush();
            }
            engine.drain();
            return System.nanoTime() - t0;
        }

        /** One unmeasured pass of everything, so that the JIT has compiled the staging path before we time it. */
        private void warmUp() {
            for (CopyDirection d : CopyDirection.values()) {
                baseline(d);
                engineDirection(d, false);
                engineDirection(d, true);
            }
            log.println("warm-up done");
        }

        /** One plain copy of the whole arena per pass, one way; returns nanoseconds. */
        private long baseline(CopyDirection direction) {
            long t0 = System.nanoTime();
            if (o.backend() == Backend.CUDA) {
                cudaBaseline(direction);
            } else {
                boolean toHost = direction == CopyDirection.DEVICE_TO_HOST;
                long src = toHost ? device.baseAddress() : host.baseAddress();
                long dst = toHost ? host.baseAddress() : device.baseAddress();
                for (int p = 0; p < passes; p++) {
                    UnsafeApi.copyMemory(src, dst, o.arenaBytes());
                }
            }
            return System.nanoTime() - t0;
        }

        private void cudaBaseline(CopyDirection direction) {
            DeviceSlab d = (DeviceSlab) device.slab();
            PinnedSlab h = (PinnedSlab) host.slab();
            try (CudaStream stream = new CudaStream(d.buffer().context())) {
                for (int p = 0; p < passes; p++) {
                    if (direction == CopyDirection.DEVICE_TO_HOST) {
                        CudaCopies.deviceToHostAsync(h.buffer(), 0, d.buffer(), 0, o.arenaBytes(), stream);
                    } else {
                        CudaCopies.hostToDeviceAsync(d.buffer(), 0, h.buffer(), 0, o.arenaBytes(), stream);
                    }
                    stream.synchronize();
                }
            }
        }

        /** Writes a known pattern into every device slot. */
        private void fill() {
            int chunk = (int) Math.min(1 << 20, o.arenaBytes());
            byte[] b = new byte[chunk];
            for (long off = 0; off < o.arenaBytes(); off += chunk) {
                int n = (int) Math.min(chunk, o.arenaBytes() - off);
                pattern(off, b, n);
                device.slab().write(off, b, 0, n);
            }
        }

        private static void pattern(long offset, byte[] b, int n) {
            for (int i = 0; i < n; i++) {
                long x = (offset + i) * 0x9E3779B97F4A7C15L;
                b[i] = (byte) (x >>> 56);
            }
        }

        /**
         * The last scattered demotion left device slot {@code s}'s bytes in host slot {@code scatter[s]}: checks a
         * sample there, zeroes the same device slots, promotes the host back and checks the device.
         */
        private int verify() {
            int blockBytes = (int) o.layout().blockBytes();
            byte[] want = new byte[blockBytes];
            byte[] got = new byte[blockBytes];
            byte[] zeros = new byte[blockBytes];
            int step = Math.max(1, slots / 64);
            int checked = 0;
            for (int s = 0; s < slots; s += step) {
                pattern((long) s * blockBytes, want, blockBytes);
                host.slab().read((long) scatter[s] * blockBytes, got, 0, blockBytes);
                if (!Arrays.equals(want, got)) {
                    throw new IllegalStateException("host slot " + scatter[s] + " does not hold device slot " + s + "'s bytes");
                }
                device.slab().write((long) s * blockBytes, zeros, 0, blockBytes);
            }
            engineDirection(CopyDirection.HOST_TO_DEVICE, true);
            for (int s = 0; s < slots; s += step) {
                pattern((long) s * blockBytes, want, blockBytes);
                device.slab().read((long) s * blockBytes, got, 0, blockBytes);
                if (!Arrays.equals(want, got)) {
                    throw new IllegalStateException("device slot " + s + " did not get its bytes back from the host");
                }
                checked++;
            }
            return checked;
        }

        private int[] permutation() {
            int[] p = new int[slots];
            for (int i = 0; i < slots; i++) {
                p[i] = i;
            }
            for (int i = slots - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
            return p;
        }

        private static double gbps(long bytes, long nanos) {
            return bytes / (double) nanos;
        }

        private static double median(double[] v) {
            double[] s = v.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        private static double max(double[] v) {
            return Arrays.stream(v).max().orElse(0);
        }
    }
}
