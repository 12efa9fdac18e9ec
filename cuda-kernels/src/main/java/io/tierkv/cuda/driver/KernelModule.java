package io.tierkv.cuda.driver;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * One compiled {@code .cu} file, loaded from the jar: {@code /io/tierkv/cuda/kernels/<name>.fatbin}
 * (SASS for sm_80 and sm_90 plus compute_90 PTX, built by nvcc during the Maven build), or the
 * {@code .ptx} beside it when the fatbin is absent or does not load. Function handles are looked up once and cached.
 */
public final class KernelModule implements AutoCloseable {
    /** Where the build puts the kernels on the class path. */
    public static final String RESOURCE_DIR = "/io/tierkv/cuda/kernels/";

    private final CudaContext context;
    private final String name;
    private final String source;
    private final CUmodule module;
    private final ConcurrentHashMap<String, CUfunction> functions = new ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    private KernelModule(CudaContext context, String name, String source, CUmodule module) {
        this.context = context;
        this.name = name;
        this.source = source;
        this.module = module;
    }

    /**
     * Loads module {@code name} (the {@code .cu} file's base name) into {@code context}: the fatbin, or,
     * when the fatbin is missing or the driver rejects it (no SASS for this GPU and a PTX it cannot JIT,
     * a corrupt image, ...), the {@code .ptx} through the driver's JIT.
     *
     * @throws IllegalStateException when the jar holds neither binary, saying how to build them
     * @throws CudaException         when the driver rejects every image; the message names each failure
     */
    public static KernelModule load(CudaContext context, String name) {
        byte[] fatbin = read(name + ".fatbin");
        byte[] ptx = read(name + ".ptx");
        CUmodule module = new CUmodule();
        context.makeCurrent();
        String source = loadImage(name, fatbin, ptx, image -> JCudaDriver.cuModuleLoadData(module, image), context.where());
        return new KernelModule(context, name, source, module);
    }

    /**
     * The fallback order of {@link #load}, separate from the driver so that it is tested without a GPU:
     * {@code load} the fatbin; when it is missing or {@code load} returns an error, the PTX (NUL-terminated);
     * returns the resource that loaded, {@code <name>.fatbin} or {@code <name>.ptx}.
     *
     * @throws IllegalStateException when both are missing
     * @throws CudaException         when every present image failed; the message names each error
     */
    static String loadImage(String name, byte[] fatbin, byte[] ptx, java.util.function.ToIntFunction<byte[]> load, String where) {
        if (fatbin == null && ptx == null) {
            throw new IllegalStateException(missingMessage(name));
        }
        String fatbinFailure = null;
        if (fatbin != null) {
            int r = load.applyAsInt(fatbin);
            if (r == CUresult.CUDA_SUCCESS) {
                return name + ".fatbin";
            }
            if (ptx == null) {
                throw Cuda.failure(r, "cuModuleLoadData of " + RESOURCE_DIR + name + ".fatbin on " + where + " (no .ptx to fall back on)");
            }
            fatbinFailure = Cuda.errorName(r) + " (" + r + ")";
        }
        int r = load.applyAsInt(Arrays.copyOf(ptx, ptx.length + 1)); // the driver wants PTX NUL-terminated
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuModuleLoadData of " + RESOURCE_DIR + name + ".ptx on " + where
                    + (fatbinFailure == null ? "" : " after the fatbin failed with " + fatbinFailure)
                    + " (PTX needs a driver of the CUDA generation that built it)");
        }
        if (fatbinFailure != null) {
            System.err.println("tierkv: " + name + ".fatbin did not load on " + where + " (" + fatbinFailure + "); using " + name
                    + ".ptx through the driver's JIT");
        }
        return name + ".ptx";
    }

    /** True when the jar holds a binary of module {@code name}. */
    public static boolean available(String name) {
        return KernelModule.class.getResource(RESOURCE_DIR + name + ".fatbin") != null
                || KernelModule.class.getResource(RESOURCE_DIR + name + ".ptx") != null;
    }

    /** What is wrong when {@link #available} is false, and how to fix it. */
    public static String missingMessage(String name) {
        return "CUDA kernels '" + name + "' are not in this build (no " + RESOURCE_DIR + name + ".fatbin or .ptx on the class path): "
                + "build them with `mvn -pl cuda-kernels package` on a machine with nvcc (CUDA 12 or newer, found at "
                + "-Dnvcc.path, $CUDA_HOME/bin, PATH or /usr/local/cuda/bin)";
    }

    /** The kernel {@code function} ({@code extern "C"} name), looked up once. */
    public CUfunction function(String function) {
        ensureOpen();
        CUfunction cached = functions.get(function);
        return cached != null ? cached : functions.computeIfAbsent(function, f -> {
            CUfunction handle = new CUfunction();
            context.makeCurrent();
            Cuda.check(JCudaDriver.cuModuleGetFunction(handle, module, f), "cuModuleGetFunction(" + f + ") in " + source);
            return handle;
        });
    }

    /**
     * Launches {@code function} on {@code stream} with a 2-D grid and 1-D blocks. {@code params} is a
     * {@code Pointer.to(Pointer.to(arg0), Pointer.to(arg1), ...)}; callers build it once over arrays
     * they refill per launch, so launching allocates nothing.
     */
    public void launch(String function, int gridX, int gridY, int blockX, int sharedBytes, CudaStream stream, Pointer params) {
        CUfunction f = function(function);
        context.makeCurrent();
        int r = JCudaDriver.cuLaunchKernel(f, gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream.handle(), params, null);
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuLaunchKernel " + function + " grid (" + gridX + ", " + gridY + ") block " + blockX + " smem "
                    + sharedBytes + " in " + source);
        }
    }

    /**
     * Launches {@code function} on {@code stream} with a 2-D grid and 1-D blocks, its arguments packed in {@code args}
     * (the cheap path: one native pointer crosses JNI, see {@link LaunchArgs}). {@code args} may be refilled on return.
     */
    public void launch(String function, int gridX, int gridY, int blockX, int sharedBytes, CudaStream stream, LaunchArgs args) {
        launch(function, gridX, gridY, 1, blockX, sharedBytes, stream, args);
    }

    /** As above with a 3-D grid. */
    public void launch(String function, int gridX, int gridY, int gridZ, int blockX, int sharedBytes, CudaStream stream, LaunchArgs args) {
        CUfunction f = function(function);
        context.makeCurrent();
        int r = JCudaDriver.cuLaunchKernel(f, gridX, gridY, gridZ, blockX, 1, 1, sharedBytes, stream.handle(), null, args.extra());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuLaunchKernel " + function + " grid (" + gridX + ", " + gridY + ", " + gridZ + ") block " + blockX
                    + " smem " + sharedBytes + " with " + args.size() + " bytes of arguments in " + source);
        }
    }

    /** Allows {@code function} more than 48 KiB of dynamic shared memory. */
    public void allowSharedMemory(String function, int bytes) {
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuFuncSetAttribute(function(function),
                jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES = " + bytes + ") of " + function);
    }

    /** The module's name. */
    public String name() {
        return name;
    }

    /** The resource it was loaded from ({@code <name>.fatbin} or {@code <name>.ptx}). */
    public String source() {
        return source;
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("kernel module " + source + " is closed");
        }
    }

    private static byte[] read(String resource) {
        try (InputStream in = KernelModule.class.getResourceAsStream(RESOURCE_DIR + resource)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE_DIR + resource + " from the class path", e);
        }
    }

    /** Unloads the module; idempotent. Cached function handles become invalid. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            functions.clear();
            context.makeCurrent();
            Cuda.check(JCudaDriver.cuModuleUnload(module), "cuModuleUnload of " + source);
        }
    }
}
