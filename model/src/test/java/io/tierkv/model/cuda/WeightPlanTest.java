package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.model.BundledModel;
import io.tierkv.model.llama.CheckpointFiles;
import io.tierkv.model.llama.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightPlanTest {
    @Test
    void bundledModel_planListsEveryExpectedTensor_withItsDtypeAndBytes() {
        Path dir = BundledModel.directory();
        LlamaConfig c = LlamaConfig.readDir(dir);
        WeightPlan plan = WeightPlan.of(dir, c);
        assertEquals(CheckpointFiles.expectedShapes(c).keySet(), plan.tensors().keySet());
        assertEquals(DType.F32, plan.modelDtype());
        WeightPlan.Entry wq = plan.tensors().get(WeightPlan.LayerNames.of(0).wq());
        assertEquals((long) c.heads() * c.headDim() * c.hiddenSize() * 4, wq.bytes());
        long sum = plan.tensors().values().stream().mapToLong(WeightPlan.Entry::bytes).sum();
        assertEquals(sum, plan.bytes());
        assertTrue(plan.largest() >= wq.bytes());
    }

    @Test
    void aConfigThatDisagreesWithTheShapes_namesTheTensor(@TempDir Path tmp) throws Exception {
        Path dir = BundledModel.directory();
        Files.copy(dir.resolve("model.safetensors"), tmp.resolve("model.safetensors"));
        LlamaConfig c = LlamaConfig.readDir(dir);
        LlamaConfig wider = new LlamaConfig(c.hiddenSize(), c.intermediateSize() + 1, c.layers(), c.heads(), c.kvHeads(), c.headDim(),
                c.vocabSize(), c.maxPositions(), c.rmsNormEps(), c.ropeTheta(), c.ropeScaling(), c.tieWordEmbeddings(), c.bosTokenId(),
                c.eosTokenId());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightPlan.of(tmp, wider));
        assertTrue(e.getMessage().contains("mlp.gate_proj.weight"), e.getMessage());
    }

    @Test
    void decoderLimits_areCheckedBeforeAnyDeviceWork() {
        LlamaConfig c = LlamaConfig.readDir(BundledModel.directory());
        assertThrows(IllegalArgumentException.class, () -> CudaDecoder.check(c, 0, 16));
        assertThrows(IllegalArgumentException.class, () -> CudaDecoder.check(c, c.maxPositions() + 1, 16));
        assertThrows(IllegalArgumentException.class, () -> CudaDecoder.check(c, 64, 0));
        CudaDecoder.check(c, c.maxPositions(), 16);
    }

    /** The GPU's paged attention reads rows as 16-byte vectors: a head dim it cannot read is refused at load, by name, on the mirror too. */
    @Test
    void aHeadDimTheGpuCannotRead_isRefusedAtLoad_namingIt() {
        LlamaConfig c = LlamaConfig.readDir(BundledModel.directory());
        for (int headDim : new int[] {12, 264}) {
            LlamaConfig odd = new LlamaConfig(headDim * c.heads(), c.intermediateSize(), c.layers(), c.heads(), c.kvHeads(), headDim,
                    c.vocabSize(), c.maxPositions(), c.rmsNormEps(), c.ropeTheta(), c.ropeScaling(), c.tieWordEmbeddings(),
                    c.bosTokenId(), c.eosTokenId());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaDecoder.check(odd, 64, 16));
            assertTrue(e.getMessage().contains("head dim") && e.getMessage().contains("is " + headDim)
                    && e.getMessage().contains("--backend cpu"), e.getMessage());
        }
    }
}
