package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceReader;
import io.tierkv.core.trace.TraceStep;
import io.tierkv.core.trace.TraceWriter;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecordingPolicyTest {
    @Test
    void recordedTrace_hasOneStepPerGeneratedToken_withTopKPositionsOfEachLayer(@TempDir Path dir) throws Exception {
        LlamaConfig c = TestModels.tiny();
        int[] prompt = new int[30];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 3 + (i * 11) % (c.vocabSize() - 3);
        }
        int steps = 25;
        int k = 4;
        Path file = dir.resolve("model.tkvt");
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, 8);
        try (LlamaWeights w = LlamaWeights.random(c, 3, 0.1, false);
             TraceWriter writer = TraceWriter.create(file, new TraceHeader(layout, k, prompt.length, steps, "test"))) {
            RecordingPolicy policy = new RecordingPolicy(Policies.create("hierarchical:window=10,k=4"), writer);
            try (TieredSession s = new TieredSession(w, policy, prompt.length, 0.5, 8, steps + 1, 0)) {
                GenerationResult g = s.generate(prompt, steps + 1, PrefillMode.PAPER, 40, Sampler.greedy(), -1, null, null);
                assertEquals(steps + 1, g.tokens().length);
            }
            assertEquals(steps, policy.recorded());
        }
        try (TraceReader reader = TraceReader.open(file)) {
            assertEquals(steps, reader.header().steps());
            TraceStep step = reader.header().newStep();
            int n = 0;
            while (reader.next(step)) {
                for (int l = 0; l < c.layers(); l++) {
                    assertEquals(k, step.count(l), "k positions per layer");
                    int keys = prompt.length + n + 1;
                    for (int i = 0; i < k; i++) {
                        assertTrue(step.position(l, i) < keys, "position within the sequence");
                    }
                }
                n++;
            }
            assertEquals(steps, n);
        }
    }
}
