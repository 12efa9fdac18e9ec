package io.tierkv.cuda.ops;

import io.tierkv.core.DType;

/** The element-type codes the kernels take ({@code src/main/cuda/dtype.cuh}): 0 = F32, 1 = F16, 2 = BF16. */
public final class DTypeCodes {
    private DTypeCodes() {
    }

    /** The kernel code of {@code t}. */
    public static int code(DType t) {
        switch (t) {
            case F32: return 0;
            case F16: return 1;
            case BF16: return 2;
            default: throw new IllegalArgumentException("no kernel code for dtype " + t);
        }
    }

    /** The kernel-name suffix of {@code t}: {@code f32}, {@code f16}, {@code bf16}. */
    public static String suffix(DType t) {
        switch (t) {
            case F32: return "f32";
            case F16: return "f16";
            case BF16: return "bf16";
            default: throw new IllegalArgumentException("no kernels for dtype " + t);
        }
    }
}
