package io.tierkv.cuda.driver;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which backend this process uses and why, decided once.
 *
 * <p>{@code -Dtierkv.backend=auto|cpu|cuda} (default {@code auto}). {@code auto} picks {@link Backend#CUDA}
 * when the JCuda driver library loads, {@code cuInit} succeeds, a device exists and the jar holds every kernel
 * module ({@link #KERNEL_MODULES}); otherwise
 * {@link Backend#CPU}. {@code cuda} that cannot be
 * satisfied throws with the reason. The process-wide choice is printed once on stderr, in one line. Nothing here can crash the JVM: a missing {@code libcuda.so.1}
 * surfaces as an {@link UnsatisfiedLinkError}, which is caught.
 *
 * @param backend the backend chosen
 * @param reason  why, in words, for logs and {@code tierkv info}
 */
public record BackendSelection(Backend backend, String reason) {
    /** The system property that forces a backend. */
    public static final String PROPERTY = "tierkv.backend";

    /** The kernel modules (one per {@code .cu} file) the jar must hold for {@link Backend#CUDA}. */
    public static final java.util.List<String> KERNEL_MODULES =
            java.util.List.of("popularity", "block_copy", "attention", "linear", "decoder_ops", "paged_attention", "decoder_step", "digest",
                    "paged_probs", "head_slices");

    private static final Pattern MISSING_LIBRARY = Pattern.compile("([\\w.+-]+\\.so[\\w.]*): cannot open shared object file");

    /** The process-wide selection, probed and logged on the first call. */
    public static BackendSelection select() {
        if (Holder.FAILURE != null) {
            throw new IllegalStateException(Holder.FAILURE.getMessage(), Holder.FAILURE);
        }
        return Holder.SELECTION;
    }

    /** True when the process-wide selection is {@link Backend#CUDA}. */
    public static boolean cuda() {
        return select().backend() == Backend.CUDA;
    }

    /**
     * Probes for {@code requested} ({@code auto}, {@code cpu} or {@code cuda}) without caching or logging.
     *
     * @throws IllegalStateException when {@code cuda} is requested and no usable GPU exists
     * @throws IllegalArgumentException for any other value
     */
    public static BackendSelection probe(String requested) {
        String mode = requested == null ? "auto" : requested.trim().toLowerCase(Locale.ROOT);
        switch (mode) {
            case "cpu":
                return new BackendSelection(Backend.CPU, "forced by -D" + PROPERTY + "=cpu");
            case "auto":
            case "":
                return detect();
            case "cuda": {
                BackendSelection found = detect();
                if (found.backend() != Backend.CUDA) {
                    throw new IllegalStateException("-D" + PROPERTY + "=cuda but no usable GPU: " + found.reason());
                }
                return found;
            }
            default:
                throw new IllegalArgumentException("-D" + PROPERTY + " must be auto, cpu or cuda, was '" + requested + "'");
        }
    }

    private static BackendSelection detect() {
        try {
            Cuda.init();
            int count = CudaDevice.count();
            if (count == 0) {
                return new BackendSelection(Backend.CPU, "the CUDA driver sees no device");
            }
            String missing = firstMissing(KernelModule::available);
            if (missing != null) {
                return new BackendSelection(Backend.CPU, "device 0 (" + CudaDevice.get(0).name() + ") is usable but "
                        + KernelModule.missingMessage(missing));
            }
            return new BackendSelection(Backend.CUDA, "device 0: " + CudaDevice.get(0).describe()
                    + (count > 1 ? " (" + count + " devices)" : ""));
        } catch (LinkageError e) {
            return new BackendSelection(Backend.CPU, "the JCuda driver library did not load (" + linkReason(e) + ")");
        } catch (CudaException e) {
            return new BackendSelection(Backend.CPU, "the CUDA driver is unusable: " + e.getMessage());
        }
    }

    /** The first of {@link #KERNEL_MODULES} that {@code available} says is not in the jar, or null when all are. */
    static String firstMissing(java.util.function.Predicate<String> available) {
        return KERNEL_MODULES.stream().filter(available.negate()).findFirst().orElse(null);
    }

    /** The short cause of a native-library failure: the missing shared object, or the first line. */
    static String linkReason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            Matcher m = MISSING_LIBRARY.matcher(message);
            if (m.find()) {
                String lib = m.group(1);
                return lib + " not found" + (lib.startsWith("libcuda.") ? ": no NVIDIA driver on this machine" : "");
            }
        }
        String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
        return e.getClass().getSimpleName() + ": " + first;
    }

    /** Initialization-on-demand holder: probed once, thread-safe without locks; a failure is kept and rethrown. */
    private static final class Holder {
        static final BackendSelection SELECTION;
        static final RuntimeException FAILURE;

        static {
            BackendSelection selection = null;
            RuntimeException failure = null;
            try {
                selection = probe(System.getProperty(PROPERTY, "auto"));
                // One line on stderr, not a logger: a library must not reconfigure logging to get one line.
                System.err.println("tierkv: backend " + selection.backend().name().toLowerCase(Locale.ROOT) + ": " + selection.reason());
            } catch (RuntimeException e) {
                failure = e;
            }
            SELECTION = selection;
            FAILURE = failure;
        }
    }
}
