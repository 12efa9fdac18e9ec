package io.tierkv.model.llama;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/** Small conversions between Java arrays and libtorch CPU tensors. */
public final class Tensors {
    private Tensors() {
    }

    /**
     * {@code x W^T (+ b)} for a weight {@code W} (out, in), as a linear layer; the bias is added when the
     * weight is a {@link BiasedWeight}. A weight in bfloat16 or float16 stays so: {@code x} is rounded to
     * the weight's dtype, multiplied by libtorch's 16-bit kernel and the result widened back (what
     * Hugging Face does running a BF16 model). Measured here (2 cores, 1 libtorch thread), against widening
     * the weight to float32 per call: a 3072 x 768 BF16 GEMV took 0.41 ms against 10.4 ms widening
     * (float32 weights: 0.37 ms), 32000 x 768 13 ms against 876 ms, and 128 rows by 768 x 3072 2.7 ms
     * against 109 ms (float32 weights: 48 ms). Float16 differs in one case, see below. A single row goes
     * through {@code mv}: libtorch's CPU matmul of one row by a transposed weight runs a GEMM at a third
     * of the memory bandwidth that its GEMV reaches (16 against 50 GB/s for a 32000 x 768 weight here),
     * and a decode step is that product, weight after weight.
     */
    public static Tensor linear(Tensor x, Tensor weight) {
        torch.ScalarType type = dtype(x);
        torch.ScalarType weightType = dtype(weight);
        Tensor y;
        if (weightType == type) {
            y = product(x, weight);
        } else if (weightType == torch.ScalarType.Half && x.numel() != x.size(-1)) {
            // libtorch's CPU float16 GEMM is slower than widening the weight for the call (128 rows by
            // 768 x 3072: 64-104 ms against 43-69 ms here); its float16 GEMV is fast (0.24-0.34 ms).
            y = product(x, weight.to(type));
        } else {
            y = product(x.to(weightType), weight).to(type);
        }
        return weight instanceof BiasedWeight b ? y.add(b.bias) : y;
    }

    private static Tensor product(Tensor x, Tensor weight) {
        if (x.dim() == 1) {
            return torch.mv(weight, x);
        }
        if (x.numel() == x.size(-1)) {
            long[] shape = shape(x);
            shape[shape.length - 1] = weight.size(0);
            return torch.mv(weight, x.reshape(-1)).view(shape);
        }
        return x.matmul(weight.t());
    }

    /**
     * The dtype of a tensor as the enum constant: JavaCPP hands out a fresh {@code ScalarType} object per
     * call, which {@code ==} never matches without {@code intern()}.
     */
    public static torch.ScalarType dtype(Tensor t) {
        return t.scalar_type().intern();
    }

    public static TensorOptions floatOptions() {
        return new TensorOptions().dtype(new ScalarTypeOptional(torch.ScalarType.Float));
    }

    public static TensorOptions longOptions() {
        return new TensorOptions().dtype(new ScalarTypeOptional(torch.ScalarType.Long));
    }

    /** A new float tensor of the given shape holding a copy of {@code data}. */
    public static Tensor fromFloats(float[] data, long... shape) {
        try (FloatPointer p = new FloatPointer(data)) {
            return torch.from_blob(p, shape, floatOptions()).clone();
        }
    }

    /**
     * A new float tensor of the given shape holding a copy of {@code data[0 .. length)}: for a buffer reused
     * across calls that may be longer than this call needs.
     */
    public static Tensor fromFloatsPrefix(float[] data, int length, long... shape) {
        try (FloatPointer p = new FloatPointer(length)) {
            p.put(data, 0, length);
            return torch.from_blob(p, shape, floatOptions()).clone();
        }
    }

    /** A new int64 tensor of the given shape holding a copy of {@code data[0 .. length)} (a reused buffer). */
    public static Tensor fromLongsPrefix(long[] data, int length, long... shape) {
        try (LongPointer p = new LongPointer(length)) {
            p.put(data, 0, length);
            return torch.from_blob(p, shape, longOptions()).clone();
        }
    }

    /** A new int64 tensor of the given shape holding {@code data}. */
    public static Tensor fromInts(int[] data, long... shape) {
        long[] l = new long[data.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = data[i];
        }
        return fromLongs(l, shape);
    }

    public static Tensor fromLongs(long[] data, long... shape) {
        try (LongPointer p = new LongPointer(data)) {
            return torch.from_blob(p, shape, longOptions()).clone();
        }
    }

    /** The elements of a float tensor (made contiguous) as a Java array. */
    public static float[] toFloats(Tensor t) {
        Tensor c = t.contiguous();
        long n = c.numel();
        float[] out = new float[Math.toIntExact(n)];
        FloatPointer p = new FloatPointer(c.data_ptr_float());
        p.get(out);
        return out;
    }

    /** Copies a contiguous float tensor into {@code out} from {@code offset}. */
    public static void copyInto(Tensor t, float[] out, int offset) {
        Tensor c = t.is_contiguous() ? t : t.contiguous();
        FloatPointer p = new FloatPointer(c.data_ptr_float());
        p.get(out, offset, Math.toIntExact(c.numel()));
    }

    /**
     * Detaches a tensor from the innermost {@link PointerScope}, so that it outlives the step that made
     * it (long-lived tables built lazily inside a step). The caller owns it and must close it.
     */
    public static Tensor keep(Tensor t) {
        PointerScope scope = PointerScope.getInnerScope();
        if (scope != null) {
            // detach() releases the scope's reference; take our own first or the tensor is freed.
            t.retainReference();
            scope.detach(t);
        }
        return t;
    }

    /** A float pointer at a raw native address (an arena slot), owning nothing. */
    public static FloatPointer floatsAt(long nativeAddress) {
        return new RawFloatPointer(nativeAddress);
    }

    /** A FloatPointer over memory someone else owns. */
    private static final class RawFloatPointer extends FloatPointer {
        RawFloatPointer(long nativeAddress) {
            this.address = nativeAddress;
        }
    }

    /** A float32 tensor over native memory owned elsewhere (zero-copy); it must not outlive that memory. */
    public static Tensor floatView(long nativeAddress, long... shape) {
        return torch.from_blob(floatsAt(nativeAddress), shape, floatOptions());
    }

    /** The shape of a tensor. */
    public static long[] shape(Tensor t) {
        return t.sizes().vec().get();
    }
}
