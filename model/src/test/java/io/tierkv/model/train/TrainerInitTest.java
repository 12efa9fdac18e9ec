package io.tierkv.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.Tensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Continuing a run from a saved model ({@code train --init}): the checkpoint is read, never written. */
class TrainerInitTest {
    @TempDir
    Path dir;

    /** A model this small trains a step in milliseconds. */
    private static TrainConfig tiny(Path out) {
        return new TrainConfig(7, 16, 1, 2, 2, 32, 2, 1e-2, 1, 2, 1, 0.95, 1, 0.25, 1, out, null, 0);
    }

    @Test
    void continuing_trainsACopy_andLeavesTheMappedCheckpointAsItWas() throws Exception {
        Path first = dir.resolve("first");
        new Trainer(tiny(first), s -> { }).run();
        byte[] before = Files.readAllBytes(first.resolve("model.safetensors"));

        Path second = dir.resolve("second");
        // Before the copy, AdamW's in-place update wrote into the read-only file mapping: a native crash.
        new Trainer(tiny(second).continuing(first, 0), s -> { }).run();

        assertArrayEquals(before, Files.readAllBytes(first.resolve("model.safetensors")), "the --init checkpoint was modified");
        try (LlamaWeights a = LlamaCheckpoint.load(first); LlamaWeights b = LlamaCheckpoint.load(second)) {
            boolean changed = false;
            for (Map.Entry<String, Tensor> e : a.named().entrySet()) {
                changed |= !Arrays.equals(Tensors.toFloats(e.getValue()), Tensors.toFloats(b.named().get(e.getKey())));
            }
            assertTrue(changed, "the continued run did not move any weight");
        }
    }

    @Test
    void trainableCopy_ownsFloatMemory_thatRequiresGradients() throws Exception {
        Path first = dir.resolve("m");
        new Trainer(tiny(first), s -> { }).run();
        try (LlamaWeights loaded = LlamaCheckpoint.load(first); LlamaWeights copy = loaded.trainableCopy()) {
            for (Map.Entry<String, Tensor> e : loaded.named().entrySet()) {
                Tensor c = copy.named().get(e.getKey());
                assertTrue(c.requires_grad(), e.getKey() + " does not require gradients");
                assertFalse(c.data_ptr().equals(e.getValue().data_ptr()), e.getKey() + " shares the loaded tensor's memory");
                assertArrayEquals(Tensors.toFloats(e.getValue()), Tensors.toFloats(c), 0f, e.getKey());
            }
        }
    }

    @Test
    void continuing_fromAModelOfAnotherShape_isRefusedByName() throws Exception {
        Path first = dir.resolve("m");
        new Trainer(tiny(first), s -> { }).run();
        TrainConfig wider = new TrainConfig(7, 32, 1, 2, 2, 32, 2, 1e-2, 1, 2, 1, 0.95, 1, 0.25, 1, dir.resolve("w"), first, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Trainer(wider, s -> { }).run());
        assertTrue(e.getMessage().contains("not shaped as this run's"), e.getMessage());
    }
}
