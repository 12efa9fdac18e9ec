package io.tierkv.tiering.remote;

import io.tierkv.core.DType;
import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixChain;
import io.tierkv.core.prefix.PrefixNamespace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The remote tier against one real redis-server: round trips, prefixes, checks, TTL, write policy. */
class RemoteKvTierTest {
    /** Lookups here must not miss for being slow on a loaded machine. */
    static final Duration PATIENT = Duration.ofSeconds(10);

    @TempDir
    static Path tmp;
    static RedisProcess redis;

    @BeforeAll
    static void startRedis() throws Exception {
        RedisProcess.assumeInstalled();
        redis = RedisProcess.start(tmp.resolve("standalone"));
    }

    @AfterAll
    static void stopRedis() throws Exception {
        if (redis != null) {
            redis.close();
        }
    }

    static RemoteConfig patient(String uri) {
        return RemoteConfig.of(uri).withLookupTimeout(PATIENT).withWriteTimeout(PATIENT);
    }

    /** Writes the first {@code blocks} full blocks of {@code tokens} from {@code memory}; waits for the store. */
    static void writeBlocks(RemoteKvTier tier, int[] tokens, int blocks, BlockMemory memory) {
        List<BlockHash> hashes = PrefixChain.hashes(tier.namespace(), tokens, tokens.length);
        for (int b = 0; b < blocks; b++) {
            assertTrue(tier.offer(hashes.get(b), b, memory), "block " + b + " sent");
        }
        assertTrue(tier.awaitWrites(PATIENT));
    }

    @Test
    void blocksWrittenByOneTier_areFoundAndCopiedByAnother() {
        int[] prompt = TestBlocks.tokens(4 * 6 + 2, 100); // 6 full blocks and 2 tokens
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, 6, 7);
        try (RemoteKvTier writer = RemoteKvTier.open(patient(redis.uri()), TestBlocks.NAMESPACE);
             RemoteKvTier reader = RemoteKvTier.open(patient(redis.uri()), TestBlocks.NAMESPACE)) {
            writeBlocks(writer, prompt, 6, kv);
            RemotePrefix hit = reader.lookup(prompt, prompt.length);
            assertEquals(6, hit.blocks());
            assertEquals(24, hit.tokens(4));
            TestBlocks into = new TestBlocks(TestBlocks.LAYOUT, 6);
            hit.copyInto(into);
            for (int b = 0; b < 6; b++) {
                assertArrayEquals(kv.block(b), into.block(b), "block " + b);
            }
            RemoteStats w = writer.stats();
            RemoteStats r = reader.stats();
            long valueBytes = new BlockValueDescriptor(TestBlocks.NAMESPACE).valueBytes();
            assertEquals(6, w.writes());
            assertEquals(6 * valueBytes, w.bytesWritten());
            assertEquals(1, r.lookups());
            assertEquals(6, r.hits());
            assertEquals(6, r.prefixBlocksHit());
            assertEquals(6 * valueBytes, r.bytesRead());
            assertEquals(1.0, r.hitRatio());
        }
    }

    @Test
    void close_letsWritesInFlightLand() {
        // 64 blocks of 256 KiB: 16 MiB, more than the sockets buffer, so most of it is still in flight at close.
        io.tierkv.core.KvLayout layout = new io.tierkv.core.KvLayout(4, 8, 64, DType.F32, 16);
        PrefixNamespace ns = PrefixNamespace.of(TestBlocks.NAMESPACE.model(), layout);
        int blocks = 64;
        int[] prompt = TestBlocks.tokens(16 * blocks + 1, 150);
        List<BlockHash> hashes = PrefixChain.hashes(ns, prompt, prompt.length);
        TestBlocks kv = TestBlocks.random(layout, blocks, 8);
        try (RemoteKvTier writer = RemoteKvTier.open(patient(redis.uri()), ns)) {
            for (int b = 0; b < blocks; b++) {
                writer.offer(hashes.get(b), b, kv);
            } // closed at once, as a process that exits after its prompt
        }
        try (RemoteKvTier reader = RemoteKvTier.open(patient(redis.uri()), ns)) {
            assertEquals(blocks, reader.lookup(prompt, prompt.length).blocks());
        }
    }

    @Test
    void lookup_leavesTheBlockWithTheLastPromptTokenToPrefill() {
        int[] prompt = TestBlocks.tokens(4 * 4, 200); // exactly 4 full blocks
        try (RemoteKvTier tier = RemoteKvTier.open(patient(redis.uri()), TestBlocks.NAMESPACE)) {
            writeBlocks(tier, prompt, 4, TestBlocks.random(TestBlocks.LAYOUT, 4, 1));
            assertEquals(3, tier.lookup(prompt, prompt.length).blocks());
            assertEquals(4, tier.lookup(prompt, prompt.length).hashes().size() + 1);
            assertEquals(0, tier.lookup(prompt, 4).blocks(), "a one-block prompt keeps its block");
        }
    }

    @Test
    void lookup_stopsAtTheFirstBlockMissing() {
        int[] prompt = TestBlocks.tokens(4 * 5 + 1, 300);
        List<BlockHash> hashes = PrefixChain.hashes(TestBlocks.NAMESPACE, prompt, prompt.length);
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, 5, 2);
        try (RemoteKvTier tier = RemoteKvTier.open(patient(redis.uri()), TestBlocks.NAMESPACE)) {
            for (int b : new int[] {0, 1, 3, 4}) { // block 2 never written
                tier.offer(hashes.get(b), b, kv);
            }
            assertTrue(tier.awaitWrites(PATIENT));
            RemotePrefix hit = tier.lookup(prompt, prompt.length);
            assertEquals(2, hit.blocks());
            RemoteStats s = tier.stats();
            assertEquals(4, s.hits(), "blocks 3 and 4 are there but follow a gap");
            assertEquals(1, s.misses());
            assertEquals(2, s.prefixBlocksHit());
        }
    }

    @Test
    void corruptedValues_areMissesNeverData() throws Exception {
        int[] prompt = TestBlocks.tokens(4 * 4 + 1, 400);
        List<BlockHash> hashes = PrefixChain.hashes(TestBlocks.NAMESPACE, prompt, prompt.length);
        try (RemoteKvTier tier = RemoteKvTier.open(patient(redis.uri()), TestBlocks.NAMESPACE)) {
            writeBlocks(tier, prompt, 4, TestBlocks.random(TestBlocks.LAYOUT, 4, 3));
            // Block 2: one payload bit flipped in place. Block 1: garbage written by a raw client.
            byte[] key2 = tier.key(hashes.get(2)).getBytes(StandardCharsets.UTF_8);
            byte[] v = redis.commandBytes("GET".getBytes(StandardCharsets.UTF_8), key2);
            v[v.length - 100] ^= 1;
            redis.commandBytes("SET".getBytes(StandardCharsets.UTF_8), key2, v);
            redis.command("SET", tier.key(hashes.get(1)), "not a block at all");
            RemotePrefix hit = tier.lookup(prompt, prompt.length);
            assertEquals(1, hit.blocks());
            RemoteStats s = tier.stats();
            assertEquals(2, s.invalid());
            assertEquals(2, s.hits());
        }
    }

    @Test
    void blocksOfAnotherModel_neverHit() throws Exception {
        int[] prompt = TestBlocks.tokens(4 * 3 + 1, 500);
        PrefixNamespace other = PrefixNamespace.of(ModelFingerprint.ofDescription("another model", DType.F32),
                TestBlocks.LAYOUT);
        try (RemoteKvTier mine = RemoteKvTier.open(patient(redis.uri()), TestBlocks.NAMESPACE);
             RemoteKvTier theirs = RemoteKvTier.open(patient(redis.uri()), other)) {
            writeBlocks(mine, prompt, 3, TestBlocks.random(TestBlocks.LAYOUT, 3, 4));
            assertEquals(0, theirs.lookup(prompt, prompt.length).blocks());
            // Even a value copied under the other model's key (a collision, or an operator's mistake) misses.
            BlockHash mineFirst = PrefixChain.hashes(TestBlocks.NAMESPACE, prompt, 4).get(0);
            BlockHash theirsFirst = PrefixChain.hashes(other, prompt, 4).get(0);
            byte[] v = redis.commandBytes("GET".getBytes(StandardCharsets.UTF_8),
                    mine.key(mineFirst).getBytes(StandardCharsets.UTF_8));
            redis.commandBytes("SET".getBytes(StandardCharsets.UTF_8),
                    theirs.key(theirsFirst).getBytes(StandardCharsets.UTF_8), v);
            assertEquals(0, theirs.lookup(prompt, prompt.length).blocks());
            assertEquals(1, theirs.stats().invalid());
        }
    }

    @Test
    void ttl_isSetOnEveryWrite() throws Exception {
        int[] prompt = TestBlocks.tokens(4 * 2 + 1, 600);
        try (RemoteKvTier tier = RemoteKvTier.open(patient(redis.uri()).withTtl(Duration.ofMinutes(10)),
                TestBlocks.NAMESPACE)) {
            writeBlocks(tier, prompt, 2, TestBlocks.random(TestBlocks.LAYOUT, 2, 5));
            for (BlockHash h : PrefixChain.hashes(TestBlocks.NAMESPACE, prompt, prompt.length)) {
                long pttl = Long.parseLong(redis.command("PTTL", tier.key(h)));
                assertTrue(pttl > 0 && pttl <= 600_000, "PTTL " + pttl);
            }
        }
    }

    @Test
    void seenTwice_writesABlockOnlyTheSecondTimeItIsOffered() {
        int[] prompt = TestBlocks.tokens(4 * 2 + 1, 700);
        List<BlockHash> hashes = PrefixChain.hashes(TestBlocks.NAMESPACE, prompt, prompt.length);
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, 2, 6);
        try (RemoteKvTier tier = RemoteKvTier.open(patient(redis.uri())
                .withWritePolicy(RemoteConfig.WritePolicy.SEEN_TWICE), TestBlocks.NAMESPACE)) {
            assertEquals(0, tier.lookup(prompt, prompt.length).blocks());
            for (int b = 0; b < 2; b++) {
                assertEquals(false, tier.offer(hashes.get(b), b, kv), "first offer of block " + b);
            }
            assertEquals(0, tier.lookup(prompt, prompt.length).blocks());
            writeBlocks(tier, prompt, 2, kv);
            assertEquals(2, tier.lookup(prompt, prompt.length).blocks());
            assertEquals(false, tier.offer(hashes.get(0), 0, kv), "a block just found is not written again");
            RemoteStats s = tier.stats();
            assertEquals(2, s.writes());
            assertEquals(3, s.writesSkipped());
        }
    }
}
