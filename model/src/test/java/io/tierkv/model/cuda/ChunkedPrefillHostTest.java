package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import org.junit.jupiter.api.Test;

/**
 * Prefill in chunks ({@code -Dtierkv.prefillChunk}: one GEMM per projection over a chunk's rows, each row attending the
 * tokens up to its own) on the host mirror, whose GEMM is its GEMV row by row: so a chunked prompt must leave the same bits
 * as the same prompt token by token, in the KV blocks (the tokens generated after it attend them) and the logits; tiered,
 * where the chunk's blocks are placed at the next append rather than token by token, the CPU decoder's tokens within the
 * device budget.
 */
class ChunkedPrefillHostTest {
    private static CudaDecoder paged(int maxTokens, int blockSize, int prefillRows) {
        return CudaDecoder.load(BundledModel.directory(), maxTokens, blockSize, null, HostStepDevice::new, KvStores.PAGED, true, false,
                prefillRows);
    }

    @Test
    void pagedChunksAcrossBlocks_leaveTheBitsOfTokenByToken_andTheCpuDecodersTokens() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int[] prompt = want.prompt();
        int maxTokens = prompt.length + DecoderFixture.NEW_TOKENS;
        float[] prefilled;
        float[] last;
        try (CudaDecoder d = paged(maxTokens, 4, 1)) {
            assertEquals(1, d.prefillChunkRows());
            d.prefill(prompt);
            prefilled = d.logits();
            d.reset();
            d.generate(prompt, DecoderFixture.NEW_TOKENS, -1, null);
            last = d.logits();
            assertEquals(0, d.chunkedPrefillTokens(), "token by token");
        }
        try (CudaDecoder d = paged(maxTokens, 4, 5)) { // chunks of 5 rows over blocks of 4: every chunk spans two blocks
            int next = d.prefill(prompt);
            assertArrayEquals(prefilled, d.logits(), "the prompt's last logits, chunked, equal token by token's");
            assertEquals(prompt.length, d.position());
            int chunked = prompt.length % 5 == 1 ? prompt.length - 1 : prompt.length; // a last chunk of one row is a step
            assertEquals(chunked, d.chunkedPrefillTokens(), "the prompt in chunks of 5");
            assertEquals(want.tokens()[0], next, "the first greedy token");
            d.reset();
            GenerationResult g = d.generate(prompt, DecoderFixture.NEW_TOKENS, -1, null);
            assertArrayEquals(want.tokens(), g.tokens(), "the CPU decoder's greedy tokens after a chunked prompt");
            assertArrayEquals(last, d.logits(), "the last step's logits read the chunk-written KV blocks as token by token's");
        }
    }

    /**
     * Tiered, a chunk spans several blocks (up to the sequence's device blocks per layer less one, before the prompt rows whose
     * attention seeds the placement): its blocks stay on the device until the next append, the placement makes room for them
     * within the budget, and the tokens are the CPU decoder's. The blocks move at other tokens than token by token's, so the
     * parts a row attends are split elsewhere: the logits agree to rounding, not bit for bit.
     */
    @Test
    void tieredChunksSpanBlocks_withinTheDeviceBudget_andKeepTheTokens() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int[] prompt = want.prompt();
        int blockSize = 16;
        int perLayer = Math.max(2, prompt.length / 4 / blockSize);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        float[] last;
        RecordingDevice tokenByToken = new RecordingDevice();
        RecordingDevice chunks = new RecordingDevice();
        long uploadsTokenByToken;
        try (CudaDecoder d = tiered(prompt.length, blockSize, perLayer, 1, tokenByToken)) {
            tokenByToken.clearUploads(); // the weights' uploads
            d.generate(prompt, DecoderFixture.NEW_TOKENS, -1, null);
            last = d.logits();
            uploadsTokenByToken = tableUploads(tokenByToken);
        }
        try (CudaDecoder d = tiered(prompt.length, blockSize, perLayer, 64, chunks)) {
            chunks.clearUploads();
            GenerationResult g = d.generate(prompt, DecoderFixture.NEW_TOKENS, -1, null);
            assertArrayEquals(want.tokens(), g.tokens(), "the CPU decoder's greedy tokens");
            float[] logits = d.logits();
            for (int i = 0; i < last.length; i++) {
                assertEquals(last[i], logits[i], 1e-4f * Math.max(1f, Math.abs(last[i])), "logit " + i + " against token by token's");
            }
            int layers = d.config().layers();
            assertTrue(d.tierStats().d2hBytes() > 0, "blocks were demoted");
            assertTrue(d.tierStats().deviceBlocksPeak() <= layers * perLayer, "device peak " + d.tierStats().deviceBlocksPeak()
                    + " blocks, budget " + layers * perLayer);
            assertTrue(d.residency()[0] <= layers * perLayer, "device blocks " + d.residency()[0]);
            // the rows before those whose attention seeds the placement go in chunks of 64 (96 rows of budget per layer less one
            // block): a chunk's 64 rows cross block boundaries
            long chunked = d.chunkedPrefillTokens();
            int read = PlacementConfig.priorQueries(prompt.length);
            assertTrue(chunked >= prompt.length - read - 1, chunked + " of " + prompt.length + " prompt tokens chunked, the last " + read
                    + " rows read");
            // the block tables go up once per chunk, not per row: a chunk of 64 rows saves 63 uploads
            long saved = uploadsTokenByToken - tableUploads(chunks);
            assertTrue(saved >= chunked - (chunked + 63) / 64 - 2, saved + " table uploads saved by " + chunked + " rows in chunks");
        }
        before.assertNoLeaks();
    }

    /**
     * A decode step changes the tables little (the tail block's valid rows in every layer; a new entry every 16 tokens; the
     * moves): only the changed span goes up, most steps a small fraction of the whole tables, and the tokens stay the CPU
     * decoder's.
     */
    @Test
    void decodeSteps_uploadWhatChangedInTheTables_notAllOfThem() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int[] prompt = want.prompt();
        RecordingDevice recorder = new RecordingDevice();
        try (CudaDecoder d = tiered(prompt.length, 16, Math.max(2, prompt.length / 4 / 16), 64, recorder)) {
            recorder.clearUploads();
            int[] decodeFrom = {-1};
            GenerationResult g = d.generate(prompt, DecoderFixture.NEW_TOKENS, -1, t -> {
                if (decodeFrom[0] < 0) { // the first generated token: the prompt is in
                    decodeFrom[0] = recorder.uploads().size();
                }
            });
            assertArrayEquals(want.tokens(), g.tokens(), "the CPU decoder's greedy tokens");
            int whole = recorder.uploads().get(largest(recorder));
            long from = recorder.uploadAddresses().get(largest(recorder));
            java.util.List<Integer> steps = new java.util.ArrayList<>();
            for (int i = decodeFrom[0]; i < recorder.uploads().size(); i++) {
                long at = recorder.uploadAddresses().get(i);
                if (at >= from && at < from + whole) {
                    steps.add(recorder.uploads().get(i));
                }
            }
            java.util.Collections.sort(steps);
            assertTrue(steps.size() >= DecoderFixture.NEW_TOKENS / 2, steps.size() + " table uploads while decoding");
            int median = steps.get(steps.size() / 2);
            assertTrue(median <= whole / 8, "the median decode step uploads " + median + " of the tables' " + whole + " bytes");
        }
    }

    private static CudaDecoder tiered(int promptLength, int blockSize, int perLayer, int prefillRows, RecordingDevice recorder) {
        return CudaDecoder.load(BundledModel.directory(), promptLength + DecoderFixture.NEW_TOKENS, blockSize, null,
                () -> recorder.wrap(new HostStepDevice()), KvStores.tiered(Backend.CPU, perLayer, () -> Policies.create("hierarchical"),
                        HostRead.EXACT), true, false, prefillRows);
    }

    /**
     * How many uploads went into the block tables: the first and largest upload is all of them (both tiers, every layer);
     * later ones carry what changed, into the same range.
     */
    static long tableUploads(RecordingDevice d) {
        int first = largest(d);
        long from = d.uploadAddresses().get(first);
        long to = from + d.uploads().get(first);
        return d.uploadAddresses().stream().filter(a -> a >= from && a < to).count();
    }

    /** The index of the largest upload (the block tables' first, whole). */
    static int largest(RecordingDevice d) {
        int at = 0;
        for (int i = 1; i < d.uploads().size(); i++) {
            if (d.uploads().get(i) > d.uploads().get(at)) {
                at = i;
            }
        }
        return at;
    }

    @Test
    void aChunkSizeThatIsNoPositiveNumber_isRefusedByName() {
        String old = System.getProperty("tierkv.prefillChunk");
        try {
            System.setProperty("tierkv.prefillChunk", "0");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, CudaDecoder::prefillChunkConfigured);
            assertTrue(e.getMessage().contains("tierkv.prefillChunk") && e.getMessage().contains("'0'"), e.getMessage());
            System.setProperty("tierkv.prefillChunk", "32");
            assertEquals(32, CudaDecoder.prefillChunkConfigured());
        } finally {
            if (old == null) {
                System.clearProperty("tierkv.prefillChunk");
            } else {
                System.setProperty("tierkv.prefillChunk", old);
            }
        }
    }
}
