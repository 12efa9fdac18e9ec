package io.tierkv.tiering.remote;

import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixChain;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The remote tier on a real 3-master Redis Cluster ({@code redis-cli --cluster create}): blocks spread over
 * the masters, and when one master dies mid-run the calls complete, its blocks miss and the others' hit.
 */
class RemoteTierClusterTest {
    private static final int MASTERS = 3;
    private static final int BLOCKS = 24;
    private static final int POLLS = 3000; // x 10 ms for the cluster to agree: generous on a loaded machine

    @TempDir
    static Path tmp;
    static final List<RedisProcess> nodes = new ArrayList<>();

    @BeforeAll
    static void startCluster() throws Exception {
        RedisProcess.assumeInstalled();
        List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
        for (int i = 0; i < MASTERS; i++) {
            RedisProcess n = RedisProcess.start(tmp.resolve("node" + i), "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
                    "--cluster-require-full-coverage", "no");
            nodes.add(n);
            create.add("127.0.0.1:" + n.port());
        }
        create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
        Process p = new ProcessBuilder(create).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("cluster-create.log").toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("redis-cli --cluster create failed; see " + tmp.resolve("cluster-create.log"));
        }
        for (RedisProcess n : nodes) {
            boolean ok = false;
            for (int i = 0; i < POLLS && !ok; i++) {
                ok = n.command("CLUSTER", "INFO").contains("cluster_state:ok");
                if (!ok) {
                    RedisProcess.sleepMillis(10);
                }
            }
            assertTrue(ok, "node " + n.port() + " never reported cluster_state:ok");
        }
    }

    @AfterAll
    static void stopCluster() throws Exception {
        for (RedisProcess n : nodes) {
            n.close();
        }
    }

    private static boolean owns(RedisProcess node, String key) throws IOException {
        try {
            node.command("EXISTS", key);
            return true;
        } catch (IOException e) {
            if (e.getMessage().contains("MOVED")) {
                return false;
            }
            throw e;
        }
    }

    @Test
    void masterLostMidRun_callsComplete_itsBlocksMiss_theOthersHit() throws Exception {
        String uri = "redis-cluster://127.0.0.1:" + nodes.get(0).port() + ",127.0.0.1:" + nodes.get(1).port();
        List<String> warnings = new CopyOnWriteArrayList<>();
        int[] prompt = TestBlocks.tokens(4 * BLOCKS + 1, 42);
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, BLOCKS, 42);
        RemoteConfig config = RemoteConfig.of(uri).withLookupTimeout(Duration.ofSeconds(5))
                .withWriteTimeout(Duration.ofSeconds(5)).withReconnectMaxDelay(Duration.ofMillis(200))
                .withWarnings(warnings::add);
        try (RemoteKvTier tier = RemoteKvTier.open(config, TestBlocks.NAMESPACE)) {
            List<BlockHash> hashes = PrefixChain.hashes(TestBlocks.NAMESPACE, prompt, prompt.length);
            assertTrue(tier.connected(), "connected: " + warnings);
            RemoteKvTierTest.writeBlocks(tier, prompt, BLOCKS, kv);
            RemotePrefix all = tier.lookup(prompt, prompt.length);
            assertEquals(BLOCKS, all.blocks());
            TestBlocks into = new TestBlocks(TestBlocks.LAYOUT, BLOCKS);
            all.copyInto(into);
            for (int b = 0; b < BLOCKS; b++) {
                assertArrayEquals(kv.block(b), into.block(b), "block " + b);
            }
            RedisProcess victim = nodes.get(1);
            boolean[] onVictim = new boolean[BLOCKS];
            int lost = 0;
            int leadingSurvivors = -1;
            for (int b = 0; b < BLOCKS; b++) {
                onVictim[b] = owns(victim, tier.key(hashes.get(b)));
                lost += onVictim[b] ? 1 : 0;
                if (onVictim[b] && leadingSurvivors < 0) {
                    leadingSurvivors = b;
                }
            }
            for (RedisProcess n : nodes) {
                assertTrue(Long.parseLong(n.command("DBSIZE")) > 0, "every master holds blocks");
            }
            assertTrue(lost > 0 && leadingSurvivors >= 0);
            victim.kill();

            RemoteStats before = tier.stats();
            RemotePrefix after = tier.lookup(hashes.subList(0, BLOCKS));
            RemoteStats s = tier.stats();
            assertEquals(leadingSurvivors, after.blocks(), "the prefix ends at the first block of the lost master");
            assertEquals(BLOCKS - lost, s.hits() - before.hits(), "blocks on the surviving masters still hit");
            assertEquals(lost, s.misses() - before.misses());
            for (int b = 0; b < BLOCKS; b++) {
                tier.offer(hashes.get(b), b, kv); // the lost master's blocks are written (and dropped) again
            }
            assertTrue(tier.awaitWrites(Duration.ofSeconds(30)));
            RemoteStats w = tier.stats();
            assertEquals(lost, w.writesDropped() - s.writesDropped(), w.toString());
            assertEquals(BLOCKS - lost, w.writesSkipped() - s.writesSkipped(), "blocks just found are not rewritten");

            int[] fresh = TestBlocks.tokens(4 * BLOCKS + 1, 43); // a new prompt: its blocks land where a master lives
            List<BlockHash> freshHashes = PrefixChain.hashes(TestBlocks.NAMESPACE, fresh, fresh.length);
            for (int b = 0; b < BLOCKS; b++) {
                tier.offer(freshHashes.get(b), b, kv);
            }
            assertTrue(tier.awaitWrites(Duration.ofSeconds(30)));
            RemoteStats f = tier.stats();
            assertEquals(BLOCKS, (f.writes() - w.writes()) + (f.writesDropped() - w.writesDropped()));
            assertTrue(f.writes() > w.writes(), "the surviving masters take writes: " + f);
            assertEquals(1, warnings.size(), warnings.toString());
        }
    }
}
