package io.tierkv.cuda.attention;

import io.tierkv.cuda.driver.CudaException;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasStatus;

/**
 * Whether JCublas can be used here. JCublas 12.6 links against {@code libcublas.so.12}; hosts with only
 * CUDA 13 installed ship {@code libcublas.so.13}, and then the library does not load. That is detected
 * once (an {@link UnsatisfiedLinkError}, caught) and the scores run on the {@code block_scores} kernel
 * instead, with {@link #reason()} saying why.
 */
public final class CublasSupport {
    private CublasSupport() {
    }

    /** True when JCublas2's native library loaded. */
    public static boolean available() {
        return Probe.REASON == null;
    }

    /** Why cuBLAS is not used, or {@code null} when it is available. */
    public static String reason() {
        return Probe.REASON;
    }

    /** Throws a {@link CudaException} naming the cuBLAS status and {@code what}, unless it is success. */
    static void check(int status, String what) {
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(status, cublasStatus.stringFor(status), what);
        }
    }

    private static final class Probe {
        static final String REASON = probe();

        private static String probe() {
            try {
                JCublas2.setExceptionsEnabled(false);
                JCublas2.initialize();
                return null;
            } catch (LinkageError e) {
                return "JCublas " + jcudaVersion() + " did not load (" + shortReason(e) + "; it needs CUDA 12's libcublas.so.12, "
                        + "CUDA 13 hosts ship libcublas.so.13)";
            }
        }

        private static String shortReason(Throwable e) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("([\\w.+-]+\\.so[\\w.]*): cannot open shared object file")
                    .matcher(String.valueOf(e.getMessage()));
            return m.find() ? m.group(1) + " not found" : String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
        }

        private static String jcudaVersion() {
            Package p = JCublas2.class.getPackage();
            String v = p == null ? null : p.getImplementationVersion();
            return v == null ? "12.6" : v;
        }
    }
}
