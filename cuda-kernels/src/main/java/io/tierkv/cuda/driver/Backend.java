package io.tierkv.cuda.driver;

/** Where TierKV keeps the device tier and runs its kernels. */
public enum Backend {
    /** Everything on the CPU: off-heap arenas, Java kernels. Always available. */
    CPU,
    /** An NVIDIA GPU through the JCuda driver API: device and pinned arenas, CUDA kernels. */
    CUDA
}
