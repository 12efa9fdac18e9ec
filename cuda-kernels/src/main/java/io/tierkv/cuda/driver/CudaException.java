package io.tierkv.cuda.driver;

/**
 * A CUDA driver (or cuBLAS) call failed. The message names the error, as the CUDA headers spell it,
 * and what was being done: {@code CUDA_ERROR_OUT_OF_MEMORY while cuMemAlloc of 1073741824 bytes on
 * device 0 (NVIDIA H200)}.
 */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int result;
    private final String errorName;
    private final String what;

    /** A failure with the numeric {@code result}, its {@code errorName}, while doing {@code what}. */
    public CudaException(int result, String errorName, String what) {
        super(errorName + " (" + result + ") while " + what);
        this.result = result;
        this.errorName = errorName;
        this.what = what;
    }

    /** The numeric result code ({@code CUresult} or {@code cublasStatus}). */
    public int result() {
        return result;
    }

    /** The error's name, for example {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String errorName() {
        return errorName;
    }

    /** What was being done when the call failed. */
    public String what() {
        return what;
    }
}
