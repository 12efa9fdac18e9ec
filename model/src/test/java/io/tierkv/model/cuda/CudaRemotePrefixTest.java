package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.KvLayout;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixNamespace;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.PromptRows;
import io.tierkv.model.generate.RedisServer;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.tiering.remote.RemoteConfig;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The remote tier on the CUDA decoder's tiered store, run on the host mirror with a real {@code redis-server}: a second
 * generation of a prompt loads the stored prefix into the device tier (a budget smaller than the prefix demotes loaded
 * blocks as prefill would) and produces the tokens of a run without the remote tier, in paper and in chunked mode, with
 * exact and digest host reads; blocks the policy frees are spilled to the store first.
 */
class CudaRemotePrefixTest {
    private static final int BLOCK = 16;
    private static final int NEW_TOKENS = 10;
    private static final int PROMPT = 200;

    @BeforeAll
    static void redis() {
        RedisServer.assumeInstalled();
    }

    /** Deterministic ordinary vocabulary ids. */
    private static int[] prompt(int vocab) {
        int[] p = new int[PROMPT];
        for (int i = 0; i < p.length; i++) {
            p[i] = 3 + (i * 7) % (vocab - 3);
        }
        return p;
    }

    /** How one generation runs: the policy, the host read, chunked or paper prefill, the host budget (a multiple of the device's). */
    record Setting(String policy, HostRead read, boolean chunked, double hostBudget) {
        Setting(String policy, HostRead read, boolean chunked) {
            this(policy, read, chunked, Double.POSITIVE_INFINITY);
        }

        /** The cases of {@link #secondGenerationLoadsThePrefix}, by name. */
        static Setting of(String mode) {
            return new Setting("hierarchical", mode.contains("digest") ? HostRead.digest(2) : HostRead.EXACT, mode.startsWith("chunked"),
                    mode.contains("host-budget") ? 1.0 : Double.POSITIVE_INFINITY);
        }
    }

    /** What one generation did: its tokens, prompt tokens loaded, blocks offered and spilled, and the tiers' traffic. */
    record Outcome(int[] tokens, int skipped, int offered, int spilled, long promotions, long demotions) {
    }

    private static CudaDecoder decoder(String policy, HostRead read) {
        return decoder(new Setting(policy, read, false), true);
    }

    /** On the host mirror, or on GPU 0 ({@link CudaRemotePrefixGpuTest}); a fresh sequence at a quarter of the prompt. */
    private static CudaDecoder decoder(Setting s, boolean hostMirror) {
        CudaDecoder d = CudaDecoder.loadTiered(BundledModel.directory(), PROMPT + NEW_TOKENS, BLOCK, 8, s.policy(), null, s.read(),
                hostMirror);
        int layers = d.config().layers();
        DeviceBudget budget = d.withDigests(DeviceBudget.of(0.25, PROMPT, BLOCK, layers), PROMPT + NEW_TOKENS);
        d.reset(budget.context(layers, PROMPT), budget.blocks(), budget.hostBlocks(s.hostBudget()));
        return d;
    }

    private static RemoteKvTier openTier(String uri, CudaDecoder d) {
        KvLayout layout = new KvLayout(d.config().layers(), d.config().kvHeads(), d.config().headDim(), d.kvDtype(), BLOCK);
        RemoteConfig config = RemoteConfig.of(uri).withLookupTimeout(Duration.ofSeconds(20)); // hits must not depend on timing
        return RemoteKvTier.open(config, PrefixNamespace.of(ModelFingerprint.ofDescription("bundled-cuda-test", d.kvDtype()), layout));
    }

    private static Outcome generate(Setting s, String uri) {
        return generate(s, uri, true);
    }

    /** One generation on a fresh decoder; with {@code uri}, through the remote tier there. */
    private static Outcome generate(Setting s, String uri, boolean hostMirror) {
        try (CudaDecoder d = decoder(s, hostMirror)) {
            int[] prompt = prompt(d.config().vocabSize());
            if (uri == null) {
                int[] tokens = d.generate(prompt, NEW_TOKENS, -1, null, null, s.chunked()).tokens();
                return new Outcome(tokens, 0, 0, 0, d.tierStats().promotionsStarted(), d.tierStats().demotionsStarted());
            }
            try (RemoteKvTier tier = openTier(uri, d)) {
                RemotePrefill remote = d.remotePrefill(tier);
                int[] tokens = d.generate(prompt, NEW_TOKENS, -1, null, null, s.chunked(), remote).tokens();
                assertTrue(tier.awaitWrites(Duration.ofSeconds(20)), "writes answered");
                assertEquals(0, tier.stats().invalid(), "no value failed its checks");
                return new Outcome(tokens, remote.skipped(), remote.offeredBlocks(), remote.spilledBlocks(), d.tierStats().promotionsStarted(),
                        d.tierStats().demotionsStarted());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"paper", "chunked", "paper-digest", "paper-host-budget"})
    void secondGeneration_loadsThePrefixIntoTheDeviceTier_andProducesTheSameTokens(String mode, @TempDir Path dir) throws Exception {
        secondGenerationLoadsThePrefix(mode, dir, true);
    }

    /**
     * The test above, on the host mirror or on GPU 0. In paper mode the prefix goes in in the chunks prefill appends, so the
     * placement moves the same blocks as without the remote tier: with digest reads (which read by where blocks lie) the
     * output could not stay the same otherwise. With a bounded host tier, the budget frees nothing before the prompt's end
     * (a dense prefill), so its blocks are offered and loaded as with an unbounded one.
     */
    static void secondGenerationLoadsThePrefix(String mode, Path dir, boolean hostMirror) throws Exception {
        Setting s = Setting.of(mode);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        Outcome plain = generate(s, null, hostMirror);
        try (RedisServer redis = RedisServer.start(dir)) {
            Outcome first = generate(s, redis.uri(), hostMirror);
            assertArrayEquals(plain.tokens(), first.tokens(), "first run, writing");
            assertEquals(0, first.skipped(), "an empty store has nothing to load");
            Outcome second = generate(s, redis.uri(), hostMirror);
            assertArrayEquals(plain.tokens(), second.tokens(), "second run, loading");
            assertEveryBlockOfferedAndLoaded(s, plain, first, second);
        }
        before.assertNoLeaks();
    }

    private static void assertEveryBlockOfferedAndLoaded(Setting s, Outcome plain, Outcome first, Outcome second) {
        assertEquals(PROMPT / BLOCK, first.offered() + first.spilled(), "every full prompt block offered");
        int perLayer = DeviceBudget.of(0.25, PROMPT, BLOCK, 1).perLayer();
        assertTrue(second.skipped() / BLOCK > perLayer, "more blocks loaded (" + second.skipped() / BLOCK + ") than the device holds"
                + " per layer (" + perLayer + "): loaded blocks were demoted");
        if (s.chunked()) { // tier mode, exact reads, unbounded host: all but the last token's block
            assertEquals(((PROMPT - 1) / BLOCK) * BLOCK, second.skipped(), "tokens loaded instead of computed");
        } else { // the full blocks before the rows a dense prefill reads, cut to the chunks prefill appends
            int reusable = ((PROMPT - PromptRows.queryRows(Policies.create("hierarchical"), PROMPT)) / BLOCK) * BLOCK;
            assertTrue(second.skipped() <= reusable && second.skipped() > reusable - 64, "loaded " + second.skipped() + " of " + reusable);
            assertEquals(plain.promotions(), second.promotions(), "the same promotions as a prefill from the start");
            assertEquals(plain.demotions(), second.demotions(), "the same demotions as a prefill from the start");
        }
    }

    @Test
    void chunkedPrefillWithDigestReads_computesTheWholePrompt_andProducesTheSameTokens(@TempDir Path dir) throws Exception {
        // where blocks lie decides what a digest read attends, and chunked prefill places blocks by the rows it saw
        Setting s = new Setting("hierarchical", HostRead.digest(2), true);
        Outcome plain = generate(s, null);
        try (RedisServer redis = RedisServer.start(dir)) {
            assertEquals(PROMPT / BLOCK, generate(s, redis.uri()).offered(), "the computed blocks are offered all the same");
            Outcome second = generate(s, redis.uri());
            assertArrayEquals(plain.tokens(), second.tokens());
            assertEquals(0, second.skipped(), "nothing loaded: every prompt row is computed");
        }
    }

    @Test
    void aPrefillOfAnotherPrompt_orInAnotherMode_isRefused_andALookupThatLoadedNothingLeavesTheSequenceFree(@TempDir Path dir)
            throws Exception {
        // drop mode: the middle of the prompt is freed at the end of prefill, so a listener left on the sequence would spill it
        try (RedisServer redis = RedisServer.start(dir); CudaDecoder d = decoder("streaming:sinks=4,window=32", HostRead.EXACT);
             RemoteKvTier tier = openTier(redis.uri(), d)) {
            int[] prompt = prompt(d.config().vocabSize());
            int[] plain = d.generate(prompt, NEW_TOKENS, -1, null, null, false).tokens();
            d.generate(prompt, NEW_TOKENS, -1, null, null, false, d.remotePrefill(tier)); // writes the prompt's blocks
            assertTrue(tier.awaitWrites(Duration.ofSeconds(20)));
            d.reset();
            assertTrue(d.loadRemotePrefix(d.remotePrefill(tier), prompt, false) > 0);
            int[] other = prompt.clone();
            other[PROMPT - 1]++;
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.prefill(other));
            assertTrue(e.getMessage().contains("another prompt"), e.getMessage());
            e = assertThrows(IllegalStateException.class, () -> d.beginChunkedPrefill(PROMPT));
            assertTrue(e.getMessage().contains("chunked prefill"), e.getMessage());
            e = assertThrows(IllegalStateException.class, () -> d.loadRemotePrefix(d.remotePrefill(tier), prompt, false));
            assertTrue(e.getMessage().contains("reset first"), e.getMessage());
            assertArrayEquals(plain, d.generate(prompt, NEW_TOKENS, -1, null, null, false).tokens(), "generate resets and computes");
            long writes = tier.stats().writes();
            d.reset();
            int[] unseen = prompt.clone();
            unseen[0]++; // another chain from the first block: nothing found
            assertEquals(0, d.loadRemotePrefix(d.remotePrefill(tier), unseen, false));
            d.generate(prompt, NEW_TOKENS, -1, null, null, false); // without the tier: the lookup's listener must not offer these blocks
            assertTrue(tier.awaitWrites(Duration.ofSeconds(20)));
            assertEquals(writes, tier.stats().writes(), "no block written under the unseen prompt's hashes");
        }
    }

    @Test
    void blocksThePolicyFrees_areSpilledToTheStoreFirst_andLoadLater(@TempDir Path dir) throws Exception {
        // drop mode: the middle of the prompt is freed at the end of prefill
        Setting s = new Setting("streaming:sinks=4,window=32", HostRead.EXACT, false);
        Outcome plain = generate(s, null);
        try (RedisServer redis = RedisServer.start(dir)) {
            Outcome first = generate(s, redis.uri());
            assertTrue(first.spilled() > 0, "freed prompt blocks are written before they go");
            assertEquals(PROMPT / BLOCK, first.offered() + first.spilled(), "spilled and written-through blocks: every full prompt block");
            Outcome second = generate(s, redis.uri());
            assertArrayEquals(plain.tokens(), second.tokens());
            assertTrue(second.skipped() > 0, "the spilled blocks load");
        }
    }

    @Test
    void theUntieredCache_refusesARemotePrefix() {
        try (CudaDecoder d = CudaDecoder.load(BundledModel.directory(), PROMPT + NEW_TOKENS, BLOCK, null, false, true)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.remotePrefill(null));
            assertTrue(e.getMessage().contains("tiered"), e.getMessage());
        }
    }
}
