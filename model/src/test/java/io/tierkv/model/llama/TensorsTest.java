package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** {@link Tensors#linear} takes the GEMV path for one row; it must compute what the GEMM path does. */
class TensorsTest {
    @Test
    void linear_oneRowThroughMv_equalsMatmulOfTheTransposedWeight() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(5);
            Tensor w = torch.randn(new long[] {96, 40});
            for (long[] shape : new long[][] {{40}, {1, 40}, {1, 1, 40}, {3, 40}, {2, 3, 40}}) {
                Tensor x = torch.randn(shape);
                Tensor got = Tensors.linear(x, w);
                Tensor want = x.matmul(w.t());
                assertArrayEquals(Tensors.shape(want), Tensors.shape(got), "shape for input " + java.util.Arrays.toString(shape));
                float[] a = Tensors.toFloats(got);
                float[] b = Tensors.toFloats(want);
                for (int i = 0; i < a.length; i++) {
                    assertTrue(Math.abs(a[i] - b[i]) <= 1e-5f * (1 + Math.abs(b[i])), "element " + i + ": " + a[i] + " vs " + b[i]);
                }
            }
        }
    }
}
