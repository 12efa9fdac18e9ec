package io.tierkv.cuda.driver;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * The one place every CUDA driver result goes through, and the driver's one-time initialisation.
 *
 * <p>Nothing here touches the native library until {@link #init()} is called; {@link BackendSelection}
 * calls it inside a {@code catch (LinkageError)} so that a machine without {@code libcuda.so.1}
 * falls back to the CPU instead of crashing.
 */
public final class Cuda {
    private Cuda() {
    }

    /** Throws {@link CudaException} naming the error and {@code what} unless {@code result} is CUDA_SUCCESS. */
    public static void check(int result, String what) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(result, errorName(result), what);
        }
    }

    /**
     * The exception for a failed {@code result}; for hot paths, which test the result themselves so
     * that the message is only built on failure: {@code if (r != 0) throw Cuda.failure(r, "...")}.
     */
    public static CudaException failure(int result, String what) {
        return new CudaException(result, errorName(result), what);
    }

    /** The name of a {@code CUresult}, for example {@code CUDA_ERROR_NO_DEVICE}; pure Java, no native call. */
    public static String errorName(int result) {
        return CUresult.stringFor(result);
    }

    /**
     * Loads the JCuda driver library and calls {@code cuInit(0)} once per process.
     *
     * @throws LinkageError   when the JCuda driver library cannot load (no {@code libcuda.so.1})
     * @throws CudaException  when {@code cuInit} fails (no device, driver too old, ...)
     */
    public static void init() {
        Init.ensure();
    }

    /** Initialises the driver at most once; a failure is remembered and rethrown. */
    private static final class Init {
        private static final RuntimeException FAILURE;
        private static final LinkageError LINK_FAILURE;

        static {
            RuntimeException failure = null;
            LinkageError linkFailure = null;
            try {
                JCudaDriver.setExceptionsEnabled(false);
                int result = JCudaDriver.cuInit(0);
                if (result != CUresult.CUDA_SUCCESS) {
                    failure = new CudaException(result, errorName(result), "cuInit(0)");
                }
            } catch (LinkageError e) {
                linkFailure = e;
            }
            FAILURE = failure;
            LINK_FAILURE = linkFailure;
        }

        static void ensure() {
            if (LINK_FAILURE != null) {
                throw LINK_FAILURE;
            }
            if (FAILURE != null) {
                throw FAILURE;
            }
        }
    }
}
