package io.tierkv.tiering.remote;

import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixChain;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import static io.tierkv.tiering.remote.RemoteKvTierTest.PATIENT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A store that is down, stopped, restarted or full never fails a caller: lookups are misses, writes are
 * dropped and counted, one warning line is printed, and the tier reconnects by itself.
 */
class RemoteTierFaultTest {
    /** Polls for recovery: 3000 x 10 ms, generous for a loaded 2-core machine (recovery takes ~1 s here). */
    private static final int RECOVERY_POLLS = 3000;

    @TempDir
    Path tmp;

    @BeforeAll
    static void requireRedis() {
        RedisProcess.assumeInstalled();
    }

    private static RemoteConfig config(String uri, List<String> warnings) {
        return RemoteConfig.of(uri).withLookupTimeout(Duration.ofMillis(200)).withWriteTimeout(Duration.ofMillis(500))
                .withReconnectMaxDelay(Duration.ofMillis(100)).withWarnings(warnings::add);
    }

    /** Writes and looks up the prompt's blocks until a lookup finds all of them; whether it ever did. */
    private static boolean pollUntilHits(RemoteKvTier tier, int[] prompt, int blocks, TestBlocks kv) {
        return poll(() -> {
            List<BlockHash> hashes = PrefixChain.hashes(tier.namespace(), prompt, prompt.length);
            for (int b = 0; b < blocks; b++) {
                tier.offer(hashes.get(b), b, kv);
            }
            tier.awaitWrites(PATIENT);
            return tier.lookup(prompt, prompt.length).blocks() == blocks;
        });
    }

    private static boolean poll(BooleanSupplier condition) {
        for (int i = 0; i < RECOVERY_POLLS; i++) {
            if (condition.getAsBoolean()) {
                return true;
            }
            RedisProcess.sleepMillis(10);
        }
        return false;
    }

    @Test
    void serverKilledMidRun_missesWithoutException_thenReconnectsAfterRestart() throws Exception {
        int[] prompt = TestBlocks.tokens(4 * 3 + 1, 1);
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, 3, 1);
        List<String> warnings = new CopyOnWriteArrayList<>();
        try (RedisProcess redis = RedisProcess.start(tmp.resolve("r"));
             RemoteKvTier tier = RemoteKvTier.open(config(redis.uri(), warnings), TestBlocks.NAMESPACE)) {
            assertTrue(pollUntilHits(tier, prompt, 3, kv));
            RemoteStats up = tier.stats();
            redis.kill();
            for (int i = 0; i < 20; i++) {
                assertEquals(0, tier.lookup(prompt, prompt.length).blocks());
                tier.offer(PrefixChain.hashes(tier.namespace(), prompt, 4).get(0), 0, kv);
            }
            tier.awaitWrites(PATIENT);
            RemoteStats down = tier.stats();
            assertEquals(60, down.failed() - up.failed(), "20 lookups of 3 blocks, none answered");
            assertEquals(20, down.writesDropped() - up.writesDropped());
            // One line for every fault so far (on a busy machine a lookup may already have timed out while polling).
            assertEquals(1, warnings.size(), "one warning line, not one per failure: " + warnings);

            redis.restart(); // empty: no persistence
            assertTrue(pollUntilHits(tier, prompt, 3, kv), "reconnected and found the rewritten blocks");
            assertEquals(1, warnings.size(), warnings.toString());
        }
    }

    @Test
    void serverDownAtOpen_isConnectedLaterInTheBackground() throws Exception {
        int port = RedisProcess.freePort();
        List<String> warnings = new CopyOnWriteArrayList<>();
        int[] prompt = TestBlocks.tokens(4 * 2 + 1, 2);
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, 2, 2);
        try (RemoteKvTier tier = RemoteKvTier.open(config("redis://127.0.0.1:" + port, warnings), TestBlocks.NAMESPACE)) {
            assertFalse(tier.connected());
            assertEquals(0, tier.lookup(prompt, prompt.length).blocks());
            assertFalse(tier.offer(PrefixChain.hashes(tier.namespace(), prompt, 4).get(0), 0, kv));
            assertEquals(1, tier.stats().writesDropped());
            assertEquals(1, warnings.size(), warnings.toString());
            try (RedisProcess redis = RedisProcess.startOnPort(tmp.resolve("late"), port)) {
                assertTrue(pollUntilHits(tier, prompt, 2, kv));
                assertTrue(tier.connected());
            }
        }
    }

    @Test
    void stoppedServer_lookupsTimeOutAsMisses_thenAnswerAgain() throws Exception {
        int[] prompt = TestBlocks.tokens(4 * 3 + 1, 3);
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, 3, 3);
        List<String> warnings = new CopyOnWriteArrayList<>();
        try (RedisProcess redis = RedisProcess.start(tmp.resolve("s"));
             RemoteKvTier tier = RemoteKvTier.open(config(redis.uri(), warnings), TestBlocks.NAMESPACE)) {
            assertTrue(pollUntilHits(tier, prompt, 3, kv));
            RemoteStats up = tier.stats();
            redis.signal("STOP"); // connected, but silent: a slow or hung server
            try {
                for (int i = 0; i < 3; i++) {
                    assertEquals(0, tier.lookup(prompt, prompt.length).blocks());
                }
                assertEquals(9, tier.stats().failed() - up.failed());
                assertEquals(1, warnings.size(), warnings.toString());
                if (up.failed() == 0 && up.writesDropped() == 0) {
                    assertTrue(warnings.get(0).contains("no answer within the timeout"), warnings.get(0));
                }
            } finally {
                redis.signal("CONT");
            }
            assertTrue(poll(() -> tier.lookup(prompt, prompt.length).blocks() == 3), "answers again");
        }
    }

    @Test
    void fullServer_dropsWritesAndCountsThem() throws Exception {
        List<String> warnings = new CopyOnWriteArrayList<>();
        int blocks = 40;
        // 40 blocks of 16 KiB (16 tokens x 2 heads x 64 dims x f32 x K,V x 2 layers) = 640 KiB over a 1 MiB
        // limit that the empty server's own memory (about 0.9 MiB) already nearly fills.
        io.tierkv.core.KvLayout layout = new io.tierkv.core.KvLayout(2, 2, 64, io.tierkv.core.DType.F32, 16);
        io.tierkv.core.prefix.PrefixNamespace ns = io.tierkv.core.prefix.PrefixNamespace.of(
                TestBlocks.NAMESPACE.model(), layout);
        int[] prompt = TestBlocks.tokens(16 * blocks + 1, 4);
        TestBlocks kv = TestBlocks.random(layout, blocks, 4);
        try (RedisProcess redis = RedisProcess.start(tmp.resolve("full"), "--maxmemory", "1mb",
                "--maxmemory-policy", "noeviction");
             RemoteKvTier tier = RemoteKvTier.open(config(redis.uri(), warnings).withWriteTimeout(PATIENT), ns)) {
            List<BlockHash> hashes = PrefixChain.hashes(ns, prompt, prompt.length);
            for (int b = 0; b < blocks; b++) {
                assertTrue(tier.offer(hashes.get(b), b, kv));
            }
            assertTrue(tier.awaitWrites(PATIENT));
            RemoteStats s = tier.stats();
            assertEquals(blocks, s.writes() + s.writesDropped());
            assertTrue(s.writesDropped() > 0, "the server refused writes with OOM: " + s);
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.get(0).contains("OOM"), warnings.get(0));
            // What was written is still served; the prefix ends where the first write was refused.
            RemotePrefix hit = tier.lookup(prompt, prompt.length);
            assertTrue(hit.blocks() <= s.writes());
        }
    }
}
