package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.DType;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.RandomCheckpoint;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RandomCheckpointTest {
    @Test
    void aRandomCheckpoint_loadsAsAPlan_inItsDtype_andDecodesOnTheHostDevice(@TempDir Path tmp) {
        LlamaConfig c = new LlamaConfig(64, 96, 2, 4, 2, 16, 50, 64, 1e-5, 10000, null, false, 1, 2);
        RandomCheckpoint.write(tmp, c, DType.BF16, 3);
        WeightPlan plan = WeightPlan.of(tmp, LlamaConfig.readDir(tmp));
        assertEquals(DType.BF16, plan.modelDtype());
        assertEquals(DType.F32, plan.tensors().get(WeightPlan.NORM).dtype());
        try (CudaDecoder d = CudaDecoder.load(tmp, 20, 16, null, HostStepDevice::new, KvStores.PAGED)) {
            assertEquals(DType.BF16, d.kvDtype());
            int[] prompt = {1, 5, 9, 13};
            int first = d.prefill(prompt);
            d.reset();
            assertEquals(first, d.prefill(prompt), "the same prompt gives the same greedy token after a reset");
            assertEquals(4, d.position());
        }
    }
}
