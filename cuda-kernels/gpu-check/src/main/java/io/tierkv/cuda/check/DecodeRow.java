package io.tierkv.cuda.check;

import io.tierkv.model.BundledModel;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.GenerationResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The GPU check's decode row: the bundled model decoded greedily by {@link CudaDecoder}, everything on the device (weights,
 * KV blocks, every step's math and the argmax; 4 bytes per token come back). A synthetic prompt of {@value #PROMPT}
 * tokens is prefilled (token by token: the decode step), then {@value #NEW_TOKENS} tokens are generated without an
 * end-of-sequence stop, once to warm up and once timed. Reported: prefill and decode tokens/s, ms per generated token,
 * and the weights' bytes read per second at that rate (the bundled model is tiny, 3 MiB: its steps are bound by
 * launch latency, about 60 launches and one host sync per token, not by bandwidth).
 */
final class DecodeRow {
    static final int PROMPT = 256;
    static final int NEW_TOKENS = 256;

    private DecodeRow() {
    }

    /** Runs and prints the row; false (with the reason printed) when the decoder failed. */
    static boolean run(Path out) throws IOException {
        String line;
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), PROMPT + NEW_TOKENS, 16, null)) {
            int vocab = decoder.config().vocabSize();
            int[] prompt = new int[PROMPT];
            for (int i = 0; i < PROMPT; i++) {
                prompt[i] = 3 + (i * 7) % (vocab - 3); // any ids but the special ones; the row times, it does not judge text
            }
            decoder.generate(prompt, NEW_TOKENS, -1, null);
            GenerationResult g = decoder.generate(prompt, NEW_TOKENS, -1, null);
            double tps = g.decodeTokensPerSecond();
            line = String.format(Locale.ROOT, "decode    bundled model (%dd x %d layers, %s weights %.1f MiB, KV %s) full on device:"
                            + " prefill %.0f tok/s, decode %.0f tok/s (%.3f ms/token, %d tokens), weights read %.1f GB/s",
                    decoder.config().hiddenSize(), decoder.config().layers(), decoder.kvDtype(), decoder.weightBytes() / 1048576.0,
                    decoder.kvDtype(), g.prefillTokensPerSecond(), tps, 1000 / tps, g.tokens().length, decoder.weightBytes() * tps / 1e9);
        } catch (RuntimeException | LinkageError e) {
            System.out.println("  FAILED decode row: " + e);
            Files.writeString(out.resolve("decode.txt"), "FAILED: " + e + System.lineSeparator());
            return false;
        }
        System.out.println(line);
        Files.writeString(out.resolve("decode.txt"), line + System.lineSeparator());
        return true;
    }
}
