package io.tierkv.model.cuda;

import java.util.Locale;

/**
 * Where the CUDA decoder attends the host tier's blocks ({@code -Dtierkv.hostAttention}): in place by the paged attention
 * kernel over mapped pinned memory ({@link #MAPPED}, the default), or on the CPU where they lie with only the query and
 * the part's output and log-sum-exp crossing PCIe ({@link #CPU}). Either way the two parts merge exactly on the device.
 * {@code MAPPED} is the default: the GPU check measured the kernel's in-place reads of a host slab at 47.7 GB/s on an H200
 * (87% of a pinned copy's rate), where {@link HostPartAttention} attends 0.8 GB/s of BF16 KV (1.7 of F32) on one core of the
 * build machine; the GPU check's decode rows run both, side by side.
 */
public enum HostAttention {
    /** The paged attention kernel reads the host slab over PCIe (zero-copy). */
    MAPPED,
    /** The CPU reads the host slab in place ({@link HostPartAttention}); the result is uploaded and merged on the device. */
    CPU;

    /** The system property that chooses it. */
    public static final String PROPERTY = "tierkv.hostAttention";

    /**
     * {@code mapped} or {@code cpu}, any case.
     *
     * @throws IllegalArgumentException naming the property and the choices for anything else
     */
    public static HostAttention parse(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "mapped" -> MAPPED;
            case "cpu" -> CPU;
            default -> throw new IllegalArgumentException(PROPERTY + "=" + name + " is not a host attention: use mapped or cpu");
        };
    }

    /** The one {@link #PROPERTY} names, {@link #MAPPED} when it is unset. */
    public static HostAttention configured() {
        return parse(System.getProperty(PROPERTY, "mapped"));
    }
}
