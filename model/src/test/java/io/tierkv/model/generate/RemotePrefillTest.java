package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixNamespace;
import io.tierkv.model.BundledModel;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.tiering.remote.RemoteConfig;
import io.tierkv.tiering.remote.RemoteKvTier;
import io.tierkv.tiering.remote.RemoteStats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generation on the bundled model with the remote tier on a real {@code redis-server}: a second generation of a
 * prompt loads the stored prefix instead of computing it and produces the tokens a run without the remote tier
 * produces, also when the server dies in the middle.
 */
class RemotePrefillTest {
    private static final int BLOCK = 16;
    private static final int MAX_TOKENS = 12;
    private static LlamaWeights weights;
    private static List<String> warnings;

    @BeforeAll
    static void load() {
        RedisServer.assumeInstalled();
        weights = LlamaCheckpoint.load(BundledModel.directory());
    }

    @AfterAll
    static void close() {
        if (weights != null) {
            weights.close();
        }
    }

    /** A deterministic prompt of ordinary vocabulary ids; {@code variant} changes the tokens from {@code from} on. */
    private static int[] prompt(int length, int from, int variant) {
        int vocab = weights.config.vocabSize();
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = 3 + (i * 7 + (i >= from ? variant * 13 : 0)) % (vocab - 3);
        }
        return p;
    }

    private static RemoteKvTier openTier(String uri) {
        LlamaConfig c = weights.config;
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, BLOCK);
        warnings = new ArrayList<>();
        // A loaded test machine may answer slowly: hits must not depend on timing here.
        RemoteConfig config = RemoteConfig.of(uri).withLookupTimeout(Duration.ofSeconds(20)).withWarnings(warnings::add);
        return RemoteKvTier.open(config, PrefixNamespace.of(ModelFingerprint.ofDescription("bundled-test", DType.F32), layout));
    }

    /** One generation; with a tier, returns the skipped count through {@code skipped[0]}. */
    private static int[] generate(int[] prompt, PrefillMode mode, RemoteKvTier tier, int[] skipped, Generator.StepObserver observer) {
        return generate("hierarchical", prompt, mode, tier, skipped, observer, null);
    }

    private static int[] generate(String policy, int[] prompt, PrefillMode mode, RemoteKvTier tier, int[] skipped,
                                  Generator.StepObserver observer, int[] spilled) {
        boolean chunked = mode == PrefillMode.CHUNKED;
        try (TieredSession s = new TieredSession(weights, Policies.create(policy), prompt.length, chunked ? 0.5 : 0.25, BLOCK,
                MAX_TOKENS, chunked ? 40 : 0)) {
            RemotePrefill r = tier == null ? null : s.useRemote(tier);
            GenerationResult g = s.generate(prompt, MAX_TOKENS, mode, 40, Sampler.greedy(), -1, null, observer);
            if (r != null) {
                skipped[0] = r.skipped();
                if (spilled != null) {
                    spilled[0] = r.spilledBlocks();
                }
            }
            return g.tokens();
        }
    }

    @Test
    void secondGeneration_loadsThePrefix_andProducesTheTokensOfARunWithoutTheRemoteTier(@TempDir Path dir) throws Exception {
        int[] prompt = prompt(200, 200, 0);
        int[] plain = generate(prompt, PrefillMode.PAPER, null, null, null);
        try (RedisServer redis = RedisServer.start(dir)) {
            int[] skipped = new int[1];
            try (RemoteKvTier first = openTier(redis.uri())) {
                assertArrayEquals(plain, generate(prompt, PrefillMode.PAPER, first, skipped, null));
                assertEquals(0, skipped[0], "an empty store has nothing to load");
                first.awaitWrites(Duration.ofSeconds(20));
                assertEquals(200 / BLOCK, first.stats().writes(), "every full prompt block written through");
            }
            try (RemoteKvTier second = openTier(redis.uri())) { // a new client, as another process would be
                assertArrayEquals(plain, generate(prompt, PrefillMode.PAPER, second, skipped, null));
                // every full block before the prompt queries a dense prefill keeps (they seed the placement)
                int kept = TieredDecoder.promptQueryRows(Policies.create("hierarchical"), 200);
                assertEquals(((200 - kept) / BLOCK) * BLOCK, skipped[0]);
                assertTrue(skipped[0] > 0);
                assertEquals(0, second.stats().invalid());
            }
        }
    }

    @Test
    void chunkedPrefill_withALoadedPrefix_producesTheSameTokens(@TempDir Path dir) throws Exception {
        int[] prompt = prompt(150, 150, 0);
        int[] plain = generate(prompt, PrefillMode.CHUNKED, null, null, null);
        try (RedisServer redis = RedisServer.start(dir); RemoteKvTier tier = openTier(redis.uri())) {
            int[] skipped = new int[1];
            generate(prompt, PrefillMode.CHUNKED, tier, skipped, null);
            tier.awaitWrites(Duration.ofSeconds(20));
            assertArrayEquals(plain, generate(prompt, PrefillMode.CHUNKED, tier, skipped, null));
            assertTrue(skipped[0] > 0, "the second run loads the prefix, skipped " + skipped[0]);
        }
    }

    @Test
    void serverKilledMidGeneration_generationCompletesWithTheSameTokens(@TempDir Path dir) throws Exception {
        int[] shared = prompt(160, 160, 0);
        int[] longer = prompt(240, 96, 1); // the first 96 tokens (6 blocks) shared, then different
        int[] plain = generate(longer, PrefillMode.CHUNKED, null, null, null);
        try (RedisServer redis = RedisServer.start(dir); RemoteKvTier tier = openTier(redis.uri())) {
            int[] skipped = new int[1];
            generate(shared, PrefillMode.CHUNKED, tier, skipped, null);
            tier.awaitWrites(Duration.ofSeconds(20));
            long writesBefore = tier.stats().writes();
            int[] kills = new int[1];
            int[] tokens = generate(longer, PrefillMode.CHUNKED, tier, skipped, (seq, generated) -> {
                if (kills[0]++ == 0) { // after the first chunk of the prompt's rest (chunked prefill): its blocks cannot be written
                    redis.kill();
                }
            });
            tier.awaitWrites(Duration.ofSeconds(20));
            assertArrayEquals(plain, tokens);
            assertEquals(6 * BLOCK, skipped[0], "the shared blocks were loaded before the server died");
            RemoteStats s = tier.stats();
            assertEquals(writesBefore, s.writes(), "nothing written after the kill");
            assertTrue(s.writesDropped() > 0, "the rest's blocks were dropped, counted: " + s);
            assertEquals(1, warnings.size(), "one warning line: " + warnings);
        }
    }

    @Test
    void clusterLosesAMasterMidGeneration_generationCompletesWithTheSameTokens(@TempDir Path dir) throws Exception {
        int[] prompt = prompt(240, 240, 0);
        int[] plain = generate(prompt, PrefillMode.CHUNKED, null, null, null);
        List<RedisServer> nodes = RedisServer.startCluster(dir, 3);
        try (RemoteKvTier tier = openTier(RedisServer.clusterUri(nodes))) {
            int[] skipped = new int[1];
            generate(prompt, PrefillMode.CHUNKED, tier, skipped, null);
            tier.awaitWrites(Duration.ofSeconds(20));
            assertEquals(240 / BLOCK, tier.stats().writes(), "the prompt's blocks spread over the masters");
            int[] calls = new int[1];
            int[] tokens = generate(prompt, PrefillMode.CHUNKED, tier, skipped, (seq, generated) -> {
                if (calls[0]++ == 0) { // the prefix is loaded; the rest of the run goes on without the master
                    nodes.get(2).kill();
                }
            });
            assertArrayEquals(plain, tokens);
            assertEquals((239 / BLOCK) * BLOCK, skipped[0], "every block was loaded before the master died");
            // after the loss: the prefix ends at the lost master's first block, and the output still matches
            int[] after = generate(prompt, PrefillMode.CHUNKED, tier, skipped, null);
            assertArrayEquals(plain, after);
            assertTrue(skipped[0] < (239 / BLOCK) * BLOCK, "a block on the lost master is a miss: skipped " + skipped[0]);
        } finally {
            nodes.forEach(RedisServer::kill);
        }
    }

    @Test
    void blocksThePolicyFrees_areSpilledToTheStoreFirst_andLoadLater(@TempDir Path dir) throws Exception {
        String streaming = "streaming:sinks=4,window=32"; // drop mode: the middle of the prompt is freed at the end of prefill
        int[] prompt = prompt(200, 200, 0);
        int[] plain = generate(streaming, prompt, PrefillMode.PAPER, null, null, null, null);
        try (RedisServer redis = RedisServer.start(dir); RemoteKvTier tier = openTier(redis.uri())) {
            int[] skipped = new int[1];
            int[] spilled = new int[1];
            generate(streaming, prompt, PrefillMode.PAPER, tier, skipped, null, spilled);
            tier.awaitWrites(Duration.ofSeconds(20));
            assertTrue(spilled[0] > 0, "freed prompt blocks are written before they go");
            assertEquals(200 / BLOCK, tier.stats().writes(), "spilled and written-through blocks: every full prompt block");
            assertArrayEquals(plain, generate(streaming, prompt, PrefillMode.PAPER, tier, skipped, null, null));
            assertEquals(((200 - TieredDecoder.promptQueryRows(Policies.create(streaming), 200)) / BLOCK) * BLOCK, skipped[0]);
            assertTrue(skipped[0] > 0);
        }
    }

    @Test
    void blocksComputedAfterAnEviction_areNotOffered_soTheyCannotReachAnotherRun(@TempDir Path dir) throws Exception {
        // chunked mode: streaming masks the middle of the prompt while it streams in, so the keys and values of the later
        // rows are computed without it: not what a prefill that attends every token computes for the same tokens
        String streaming = "streaming:sinks=4,window=32";
        int[] prompt = prompt(200, 200, 0);
        int[] plain = generate(prompt, PrefillMode.PAPER, null, null, null);
        try (RedisServer redis = RedisServer.start(dir); RemoteKvTier tier = openTier(redis.uri())) {
            int[] skipped = new int[1];
            generate(streaming, prompt, PrefillMode.CHUNKED, tier, skipped, null, null);
            tier.awaitWrites(Duration.ofSeconds(20));
            assertEquals(0, tier.stats().invalid());
            assertArrayEquals(plain, generate(prompt, PrefillMode.PAPER, tier, skipped, null), "a paper-mode run loading what the"
                    + " chunked streaming run offered");
            assertTrue(skipped[0] > 0 && skipped[0] < 200 - 32, "it loads the blocks written before the first eviction, "
                    + skipped[0] + " tokens, and computes the rest");
        }
    }

    @Test
    void rowsComputedWithASparseHostRead_areNotOffered(@TempDir Path dir) throws Exception {
        // chunked prefill one token at a time: with digest reads each row reads the host tier as a decode step does, so its
        // keys and values depend on where this run's blocks lie
        int[] prompt = prompt(200, 200, 0);
        try (RedisServer redis = RedisServer.start(dir); RemoteKvTier tier = openTier(redis.uri());
             TieredSession s = new TieredSession(weights, Policies.create("hierarchical"), prompt.length, 0.5, BLOCK, MAX_TOKENS, 1,
                     Double.POSITIVE_INFINITY, HostRead.digest(2))) {
            RemotePrefill r = s.useRemote(tier);
            s.generate(prompt, MAX_TOKENS, PrefillMode.CHUNKED, 1, Sampler.greedy(), -1, null, null);
            tier.awaitWrites(Duration.ofSeconds(20));
            assertTrue(r.computesWholePrompt(), "digest reads: chunked prefill computes every row");
            assertEquals(0, r.offeredBlocks() + r.spilledBlocks(), "no block offered");
            assertEquals(0, tier.stats().writes());
        }
    }
}
