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

    private static CudaDecoder decoder(String policy, HostRead read) {
        return decoder(policy, read, true);
    }

    /** On the host mirror, or on GPU 0 ({@link CudaRemotePrefixGpuTest}). */
    private static CudaDecoder decoder(String policy, HostRead read, boolean hostMirror) {
        CudaDecoder d = CudaDecoder.loadTiered(BundledModel.directory(), PROMPT + NEW_TOKENS, BLOCK, 8, policy, null, read, hostMirror);
        int layers = d.config().layers();
        DeviceBudget budget = d.withDigests(DeviceBudget.of(0.25, PROMPT, BLOCK, layers), PROMPT + NEW_TOKENS);
        d.reset(budget.context(layers, PROMPT), budget.blocks(), Integer.MAX_VALUE);
        return d;
    }

    private static RemoteKvTier openTier(String uri, CudaDecoder d) {
        KvLayout layout = new KvLayout(d.config().layers(), d.config().kvHeads(), d.config().headDim(), d.kvDtype(), BLOCK);
        RemoteConfig config = RemoteConfig.of(uri).withLookupTimeout(Duration.ofSeconds(20)); // hits must not depend on timing
        return RemoteKvTier.open(config, PrefixNamespace.of(ModelFingerprint.ofDescription("bundled-cuda-test", d.kvDtype()), layout));
    }

    /** One generation on a fresh decoder; with {@code uri}, through the remote tier there, {@code counts}: skipped, offered, spilled. */
    private static int[] generate(String policy, HostRead read, boolean chunked, String uri, int[] counts) {
        return generate(policy, read, chunked, uri, counts, true);
    }

    private static int[] generate(String policy, HostRead read, boolean chunked, String uri, int[] counts, boolean hostMirror) {
        try (CudaDecoder d = decoder(policy, read, hostMirror)) {
            int[] prompt = prompt(d.config().vocabSize());
            if (uri == null) {
                return d.generate(prompt, NEW_TOKENS, -1, null, null, chunked).tokens();
            }
            try (RemoteKvTier tier = openTier(uri, d)) {
                RemotePrefill remote = d.remotePrefill(tier);
                int[] tokens = d.generate(prompt, NEW_TOKENS, -1, null, null, chunked, remote).tokens();
                assertTrue(tier.awaitWrites(Duration.ofSeconds(20)), "writes answered");
                assertEquals(0, tier.stats().invalid(), "no value failed its checks");
                counts[0] = remote.skipped();
                counts[1] = remote.offeredBlocks();
                counts[2] = remote.spilledBlocks();
                return tokens;
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"paper", "chunked", "paper-digest"})
    void secondGeneration_loadsThePrefixIntoTheDeviceTier_andProducesTheSameTokens(String mode, @TempDir Path dir) throws Exception {
        secondGenerationLoadsThePrefix(mode, dir, true);
    }

    /** The test above, on the host mirror or on GPU 0. */
    static void secondGenerationLoadsThePrefix(String mode, Path dir, boolean hostMirror) throws Exception {
        boolean chunked = mode.startsWith("chunked");
        HostRead read = mode.endsWith("digest") ? HostRead.digest(2) : HostRead.EXACT;
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        int[] plain = generate("hierarchical", read, chunked, null, null, hostMirror);
        try (RedisServer redis = RedisServer.start(dir)) {
            int[] first = new int[3];
            assertArrayEquals(plain, generate("hierarchical", read, chunked, redis.uri(), first, hostMirror), "first run, writing");
            assertEquals(0, first[0], "an empty store has nothing to load");
            assertEquals(PROMPT / BLOCK, first[1], "every full prompt block offered after prefill");
            int[] second = new int[3];
            assertArrayEquals(plain, generate("hierarchical", read, chunked, redis.uri(), second, hostMirror), "second run, loading");
            // paper: every full block before the rows a dense prefill reads; chunked (tier mode): all but the last token's
            int computed = chunked ? 1 : PromptRows.queryRows(Policies.create("hierarchical"), PROMPT);
            assertEquals(((PROMPT - computed) / BLOCK) * BLOCK, second[0], "tokens loaded instead of computed");
            int perLayer = DeviceBudget.of(0.25, PROMPT, BLOCK, 1).perLayer();
            assertTrue(second[0] / BLOCK > perLayer, "more blocks loaded (" + second[0] / BLOCK + ") than the device holds per layer ("
                    + perLayer + "): loaded blocks were demoted");
        }
        before.assertNoLeaks();
    }

    @Test
    void chunkedPrefillWithDigestReads_computesTheWholePrompt_andProducesTheSameTokens(@TempDir Path dir) throws Exception {
        // where blocks lie decides what a digest read attends, and chunked prefill places blocks by the rows it saw
        HostRead read = HostRead.digest(2);
        int[] plain = generate("hierarchical", read, true, null, null);
        try (RedisServer redis = RedisServer.start(dir)) {
            int[] first = new int[3];
            generate("hierarchical", read, true, redis.uri(), first);
            assertEquals(PROMPT / BLOCK, first[1], "the computed blocks are offered all the same");
            int[] second = new int[3];
            assertArrayEquals(plain, generate("hierarchical", read, true, redis.uri(), second));
            assertEquals(0, second[0], "nothing loaded: every prompt row is computed");
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
        String streaming = "streaming:sinks=4,window=32"; // drop mode: the middle of the prompt is freed at the end of prefill
        int[] plain = generate(streaming, HostRead.EXACT, false, null, null);
        try (RedisServer redis = RedisServer.start(dir)) {
            int[] first = new int[3];
            generate(streaming, HostRead.EXACT, false, redis.uri(), first);
            assertTrue(first[2] > 0, "freed prompt blocks are written before they go");
            assertEquals(PROMPT / BLOCK, first[1] + first[2], "spilled and written-through blocks: every full prompt block");
            int[] second = new int[3];
            assertArrayEquals(plain, generate(streaming, HostRead.EXACT, false, redis.uri(), second));
            assertTrue(second[0] > 0, "the spilled blocks load");
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
