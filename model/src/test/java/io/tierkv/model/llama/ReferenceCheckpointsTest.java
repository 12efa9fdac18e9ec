package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Checkpoints that Hugging Face {@code transformers} wrote, with the logits it computed
 * ({@code src/test/python/make_reference_checkpoints.py}): TierKV's loader and forward pass must give the
 * same logits within each fixture's stated tolerance. Skipped while the fixtures are not in
 * {@code src/test/resources/reference-checkpoints} (or {@code -Dtierkv.reference.dir}).
 */
class ReferenceCheckpointsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path fixtures() {
        return Path.of(System.getProperty("tierkv.reference.dir", "src/test/resources/reference-checkpoints"));
    }

    @Test
    void everyReferenceCheckpoint_givesTransformersLogitsWithinItsTolerance() throws IOException {
        Path root = fixtures();
        assumeTrue(Files.isDirectory(root), "no reference checkpoints in " + root.toAbsolutePath()
                + " (made by src/test/python/make_reference_checkpoints.py on a machine with transformers)");
        List<Path> dirs;
        try (Stream<Path> s = Files.list(root)) {
            dirs = s.filter(d -> Files.isRegularFile(d.resolve("reference.json"))).sorted().toList();
        }
        assertTrue(!dirs.isEmpty(), root + " holds no <name>/reference.json");
        for (Path dir : dirs) {
            JsonNode ref = JSON.readTree(dir.resolve("reference.json").toFile());
            double tolerance = ref.get("tolerance").asDouble();
            try (LlamaWeights w = LlamaCheckpoint.load(dir)) {
                LlamaForward forward = new LlamaForward(w);
                int v = w.config.vocabSize();
                for (int p = 0; p < ref.get("prompts").size(); p++) {
                    JsonNode ids = ref.get("prompts").get(p);
                    int[] prompt = new int[ids.size()];
                    for (int i = 0; i < prompt.length; i++) {
                        prompt[i] = ids.get(i).asInt();
                    }
                    float[] got = Tensors.toFloats(forward.logits(Tensors.fromInts(prompt, 1, prompt.length)));
                    JsonNode expected = ref.get("logits").get(p);
                    double worst = 0;
                    for (int t = 0; t < prompt.length; t++) {
                        for (int i = 0; i < v; i++) {
                            worst = Math.max(worst, Math.abs(expected.get(t).get(i).asDouble() - got[t * v + i]));
                        }
                    }
                    String what = dir.getFileName() + " prompt " + p + " (" + prompt.length + " tokens)";
                    assertTrue(worst <= tolerance, what + ": logits differ from transformers' by " + worst + " > " + tolerance);
                    assertEquals(expected.size(), prompt.length, what);
                }
            }
        }
    }
}
