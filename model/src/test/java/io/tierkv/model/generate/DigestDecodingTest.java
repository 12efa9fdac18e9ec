package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.TestModels;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierConfig;
import io.tierkv.tiering.TierManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Digest host reads against exact ones: same logits when every host block is selected, fewer bytes when not. */
class DigestDecodingTest {
    static LlamaWeights weights;
    static LlamaConfig config;

    @BeforeAll
    static void model() {
        config = TestModels.tiny();
        weights = LlamaWeights.random(config, 21, 0.1, false);
    }

    @AfterAll
    static void free() {
        weights.close();
    }

    /** Decodes 12 tokens greedily after a 37-token prompt, 2 device blocks of 4 tokens per layer; returns every step's logits. */
    private static float[][] decode(HostRead mode, HostReadStats[] stats, long[] digestBytes) {
        KvLayout layout = new KvLayout(config.layers(), config.kvHeads(), config.headDim(), DType.F32, 4);
        int[] prompt = new int[37];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 3 + (i * 11) % (config.vocabSize() - 3);
        }
        int budget = 2 * config.layers();
        float[][] out = new float[13][];
        try (TierManager tiers = TierManager.create(TierConfig.cpu(layout, budget + config.layers(), 512))) {
            TieredDecoder decoder = new TieredDecoder(weights, tiers);
            decoder.hostRead(mode);
            KvPolicy policy = Policies.create("full");
            try (Sequence seq = tiers.open(policy, PolicyContext.unbounded(config.layers(), prompt.length), budget)) {
                out[0] = decoder.prefillDense(seq, policy, prompt);
                for (int step = 0; step < 12; step++) {
                    out[step + 1] = decoder.forward(seq, policy, new int[] {Sampler.argmax(out[step])}, true);
                }
                assertTrue(seq.committedHostBlocks() > 0, "the test needs host blocks");
            }
            stats[0] = decoder.hostReads();
            digestBytes[0] = decoder.digestBytesPeak();
        }
        return out;
    }

    @Test
    void digest_selectingEveryHostBlock_equalsExact() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        HostReadStats[] s = new HostReadStats[1];
        long[] bytes = new long[1];
        float[][] exact = decode(HostRead.EXACT, s, bytes);
        assertEquals(1.0, s[0].fraction());
        assertEquals(0, bytes[0]);
        float[][] digest = decode(HostRead.digest(1000), s, bytes);
        for (int i = 0; i < exact.length; i++) {
            // Not bitwise: whether a block being copied is read on the device or the host depends on the copy
            // thread's timing, and so does the order of the sums. Each is within TieredDecoderTest's 2e-4 of dense.
            double d = 0;
            for (int j = 0; j < exact[i].length; j++) {
                d = Math.max(d, Math.abs(exact[i][j] - digest[i][j]));
            }
            assertTrue(d < 2 * TieredDecoderTest.BOUND, "step " + i + ": max abs logit difference " + d);
        }
        assertEquals(1.0, s[0].fraction());
        assertTrue(bytes[0] > 0, "digests are kept in digest mode");
        for (double r : s[0].recallByLayer()) {
            assertEquals(1.0, r, "every host block read: every true top-k host position is in the selection");
        }
        before.assertNoLeaks();
    }

    @Test
    void digest_withOneBlock_readsOneHostBlockPerLayerAndStep() {
        HostReadStats[] s = new HostReadStats[1];
        long[] bytes = new long[1];
        decode(HostRead.digest(1), s, bytes);
        HostReadStats st = s[0];
        assertEquals(12, st.steps());
        assertEquals(12L * config.layers(), st.blocksRead(), "one block per layer and step");
        assertTrue(st.blocksExact() > st.blocksRead(), "exact would read more: " + st.blocksExact());
        for (double r : st.recallByLayer()) {
            assertTrue(r >= 0 && r <= 1, "recall " + r);
        }
    }

    @Test
    void digest_min_readsBlocksPastTheFirstTwoOnlyWhenTheyRankHighEnough() {
        HostReadStats[] s = new HostReadStats[1];
        long[] bytes = new long[1];
        decode(HostRead.digest(2), s, bytes);
        long two = s[0].blocksRead();
        decode(HostRead.digest(4), s, bytes);
        long four = s[0].blocksRead();
        decode(new HostRead(true, 4, 1, 1e9), s, bytes);             // no block ranks that high: only the sure two
        assertEquals(two, s[0].blocksRead());
        decode(new HostRead(true, 4, 1, 0), s, bytes);
        assertEquals(four, s[0].blocksRead());
        decode(new HostRead(true, 4, 1, 1.0), s, bytes);
        long some = s[0].blocksRead();
        assertTrue(two < four && two <= some && some <= four, two + " <= " + some + " <= " + four);
    }

    private static double maxDifference(float[][] a, float[][] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                d = Math.max(d, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return d;
    }

    @Test
    void perHead_everySliceOfEveryHead_equalsExact_withCodedDigestsToo() {
        HostReadStats[] s = new HostReadStats[1];
        long[] bytes = new long[1];
        float[][] exact = decode(HostRead.EXACT, s, bytes);
        for (String spec : new String[] {"digest:select=head,slices=100000", "digest:select=head,slices=100000,parts=2,bits=4",
                "digest:select=head,slices=100000,bits=4,sketch=2"}) {
            float[][] digest = decode(HostRead.parse(spec), s, bytes);
            double d = maxDifference(exact, digest);
            assertTrue(d < 2 * TieredDecoderTest.BOUND, spec + ": max abs logit difference " + d);
            assertEquals(1.0, s[0].fraction(), 1e-12, spec);
            for (double r : s[0].recallByLayer()) {
                assertEquals(1.0, r, 1e-12, spec + ": every head read every block");
            }
        }
    }

    @Test
    void perHead_oneSlicePerKvHead_readsOneBlocksWorthPerLayerAndStep() {
        HostReadStats[] s = new HostReadStats[1];
        long[] bytes = new long[1];
        float[][] exact = decode(HostRead.EXACT, s, bytes);
        float[][] oneEach = decode(HostRead.parse("digest:select=head,slices=" + config.kvHeads()), s, bytes);
        assertEquals(12L * config.layers(), s[0].blocksRead(), "K slices of 1/K block per layer and step");
        assertTrue(s[0].fraction() < 1, "fewer bytes than exact: " + s[0].fraction());
        assertTrue(maxDifference(exact, oneEach) > 1e-4, "reading a slice per head is not an exact read");
    }

    @Test
    void keys_countTheCandidatesKeysAndTheKeptSlicesValues_andScoringEverySliceReadsTheExactBest() {
        HostReadStats[] s = new HostReadStats[1];
        long[] bytes = new long[1];
        int kv = config.kvHeads();
        // 2K candidate slices' keys (K blocks' worth of keys, half their bytes) and K slices' values: 1.5 blocks per layer-step
        decode(HostRead.parse("digest:select=head,slices=" + kv + ",keys=" + 2 * kv), s, bytes);
        assertEquals(12, s[0].steps());
        assertEquals(Math.round(12 * config.layers() * 1.5), s[0].blocksRead());
        // Every slice a candidate: each KV head reads its block of the best exact score, whatever the digests say, so the
        // selection is the same for digests of any precision.
        float[][] coarse = decode(HostRead.parse("digest:select=head,slices=" + kv + ",keys=100000,bits=4"), s, bytes);
        float[][] fine = decode(HostRead.parse("digest:select=head,slices=" + kv + ",keys=100000,parts=4"), s, bytes);
        assertTrue(maxDifference(coarse, fine) < 2 * TieredDecoderTest.BOUND, "max abs logit difference " + maxDifference(coarse, fine));
        float[][] digestOnly = decode(HostRead.parse("digest:select=head,slices=" + kv + ",bits=4"), s, bytes);
        assertTrue(maxDifference(coarse, digestOnly) > 1e-4, "without keys the 4-bit digests choose other slices");
    }

    @Test
    void sketch_countsItsCodesInTheDigestBytes_andChoosesOtherSlicesThanTheBoxAlone() {
        HostReadStats[] s = new HostReadStats[1];
        long[] box = new long[1];
        long[] sketched = new long[1];
        int kv = config.kvHeads();
        float[][] byBound = decode(HostRead.parse("digest:select=head,slices=" + kv + ",bits=4"), s, box);
        long boxBlocks = box[0] / BlockDigests.bytesPerBlock(kv, config.headDim(), 1, 4);
        float[][] byEstimate = decode(HostRead.parse("digest:select=head,slices=" + kv + ",bits=4,sketch=2"), s, sketched);
        assertEquals(12L * config.layers(), s[0].blocksRead(), "the same bytes read: one slice per KV head, layer and step");
        assertEquals(boxBlocks * BlockDigests.bytesPerBlock(kv, config.headDim(), 1, 4, 2, 4), sketched[0],
                "the same blocks' digests, each with 4 keys x K x d codes of 2 bits more");
        assertTrue(maxDifference(byBound, byEstimate) > 1e-4, "the estimates rank the slices otherwise than the bounds");
    }
}
