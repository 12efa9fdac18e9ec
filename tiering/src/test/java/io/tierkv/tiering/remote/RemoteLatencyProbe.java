package io.tierkv.tiering.remote;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixChain;
import io.tierkv.core.prefix.PrefixNamespace;

import java.time.Duration;
import java.util.List;

/**
 * A quick measurement, not a test: writes the reusable blocks of a 512-token prompt for a layout, then looks
 * them up and loads them {@code REPEATS} times, and prints the remote tier's statistics. Arguments:
 * {@code URI LAYERS KV_HEADS HEAD_DIM [REPEATS]} (f32, 16-token blocks). Run from the repository root after
 * {@code mvn -o -q -DskipTests package} and {@code mvn -o -q -pl tiering dependency:build-classpath
 * -Dmdep.outputFile=cp.txt}: {@code java --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -cp
 * "$(cat tiering/cp.txt):core/target/classes:tiering/target/classes:tiering/target/test-classes"
 * io.tierkv.tiering.remote.RemoteLatencyProbe redis://127.0.0.1:6379 12 12 64}.
 */
public final class RemoteLatencyProbe {
    private RemoteLatencyProbe() {
    }

    public static void main(String[] args) {
        KvLayout layout = new KvLayout(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                DType.F32, 16);
        int repeats = args.length > 4 ? Integer.parseInt(args[4]) : 50;
        PrefixNamespace ns = PrefixNamespace.of(ModelFingerprint.ofDescription("latency probe " + layout, DType.F32), layout);
        int[] prompt = TestBlocks.tokens(512, System.nanoTime());
        int blocks = (prompt.length - 1) / layout.blockSize();
        TestBlocks kv = TestBlocks.random(layout, blocks, 1);
        TestBlocks into = new TestBlocks(layout, blocks);
        RemoteConfig config = RemoteConfig.of(args[0]).withLookupTimeout(Duration.ofSeconds(5));
        try (RemoteKvTier tier = RemoteKvTier.open(config, ns)) {
            List<BlockHash> hashes = PrefixChain.hashes(ns, prompt, prompt.length);
            long w0 = System.nanoTime();
            for (int b = 0; b < blocks; b++) {
                tier.offer(hashes.get(b), b, kv);
            }
            tier.awaitWrites(Duration.ofSeconds(60));
            long w1 = System.nanoTime();
            long copyNanos = 0;
            for (int r = 0; r < repeats; r++) {
                RemotePrefix hit = tier.lookup(prompt, prompt.length);
                long c0 = System.nanoTime();
                hit.copyInto(into);
                copyNanos += System.nanoTime() - c0;
                if (hit.blocks() != blocks) {
                    System.out.println("lookup " + r + " found " + hit.blocks() + " of " + blocks);
                }
            }
            RemoteStats s = tier.stats();
            double mib = (double) new BlockValueDescriptor(ns).valueBytes() * blocks / (1 << 20);
            System.out.printf("layout %s: %d blocks, %.2f MiB per prompt; write all %.1f ms; lookup p50 %.1f ms p99 %.1f ms"
                            + " max %.1f ms (%.0f MiB/s at p50); copyInto %.2f ms per prompt; hit ratio %.3f%n",
                    layout, blocks, mib, (w1 - w0) / 1e6, s.lookupP50Micros() / 1e3, s.lookupP99Micros() / 1e3,
                    s.lookupMaxMicros() / 1e3, mib / (s.lookupP50Micros() / 1e6), copyNanos / 1e6 / repeats, s.hitRatio());
        }
    }
}
