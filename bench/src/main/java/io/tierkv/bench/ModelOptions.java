package io.tierkv.bench;

import io.tierkv.model.BundledModel;
import io.tierkv.model.cuda.CudaDecoder;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that run a model. */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR", description = "A Hugging Face Llama model directory (default: the bundled model).")
    Path model;

    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per KV block (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--backend", defaultValue = "cpu",
            description = "cpu, cuda or auto: where the model's math runs. generate, eval, demo, trace record, bench decode and bench"
                    + " remote run on the GPU"
                    + " with cuda (the CUDA decoder: weights, KV blocks and every step on the device); auto picks cuda when a GPU"
                    + " and the jar's kernels are there and the command's settings run on it, else the CPU and says why"
                    + " (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--threads", defaultValue = "0",
            description = "libtorch intra-op threads; 0 picks: one for a model narrower than 512 (its matrices are too small"
                    + " to split, and a spare core serves the copy thread), else all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--host-budget", paramLabel = "F",
            description = "Host tier budget as a multiple of the device budget: past it the least valuable host blocks are"
                    + " freed, EVICT ones first (default: unbounded, nothing is freed in tier mode).")
    Double hostBudget;

    /** The parsed {@code --host-budget}: a multiple of the device budget, infinity when not given. */
    double hostBudget() {
        if (hostBudget == null) {
            return Double.POSITIVE_INFINITY;
        }
        if (!(hostBudget >= 0) || Double.isInfinite(hostBudget)) {
            throw new IllegalArgumentException("--host-budget must be a finite multiple >= 0 of the device budget, was " + hostBudget);
        }
        return hostBudget;
    }

    @Option(names = "--host-read", defaultValue = "exact", paramLabel = "MODE",
            description = "How decode steps read the host tier: exact (every host block), or digest[:blocks=N,...] (only the"
                    + " host blocks per layer whose key digest scores the query highest: blocks=N whole blocks, default "
                    + io.tierkv.model.generate.HostRead.DEFAULT_BLOCKS + "; select=head,slices=S: S KV-head slices; keys=C: score"
                    + " the keys of C digest-chosen slices exactly and read the S best whole; sketch=1|2|4: rank by the keys coded"
                    + " in that many bits per dimension within the block's box, not by the box's bound; parts=P sub-block boxes;"
                    + " bits=16|8|4 box precision; min=R a rank gate; plain digest is "
                    + "digest:blocks=2,bits=4,select=head,slices=8,keys=12,sketch=2 on either backend (--backend cuda refuses only"
                    + " bits=8|4 without a sketch and a sketch over bits=16 boxes);"
                    + " the digests are taken out of the device budget) (default: ${DEFAULT-VALUE}).")
    String hostRead;

    /** The parsed {@code --host-read}. */
    io.tierkv.model.generate.HostRead hostRead() {
        return io.tierkv.model.generate.HostRead.parse(hostRead);
    }

    /**
     * Sets libtorch's intra-op threads and OpenBLAS's own threads for a model of this width (OpenBLAS starts
     * one thread per core at load, whatever libtorch is told), and warns on stderr about thread settings that
     * slow a loaded machine down. Returns the threads chosen.
     */
    int applyThreads(io.tierkv.model.llama.LlamaConfig config) {
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must be >= 0, was " + threads);
        }
        int n = threads > 0 ? threads : config.hiddenSize() < 512 ? 1 : Runtime.getRuntime().availableProcessors();
        org.bytedeco.pytorch.global.torch.set_num_threads(n);
        setOpenBlasThreads(n);
        warnIfSpinning();
        if (threads == 0 && System.getenv("OPENBLAS_NUM_THREADS") == null) {
            System.err.println("tierkv: WARN OPENBLAS_NUM_THREADS is not set: OpenBLAS started one thread per core at load;"
                    + " tierkv capped it at " + n + " (--threads sets it; OPENBLAS_NUM_THREADS=" + n + " avoids the extra threads)");
        }
        return n;
    }

    /** OpenBLAS's threads, or -1 when its library cannot be reached. */
    static int openBlasThreads() {
        try {
            return org.bytedeco.openblas.global.openblas_full.openblas_get_num_threads();
        } catch (Throwable e) {
            return -1;
        }
    }

    private static void setOpenBlasThreads(int n) {
        try {
            org.bytedeco.openblas.global.openblas_full.openblas_set_num_threads(n);
        } catch (Throwable e) {
            System.err.println("tierkv: WARN cannot set OpenBLAS's threads (" + e + ")");
        }
    }

    /**
     * One line on stderr when libgomp will spin: its workers busy-wait between parallel regions unless
     * OMP_WAIT_POLICY says otherwise, and starve the JVM's own threads (3x slower decoding on 2 cores).
     * The variable is read once, at library load, so only the launcher can set it; exec:exec does.
     */
    static void warnIfSpinning() {
        if (System.getenv("OMP_WAIT_POLICY") == null) {
            System.err.println("tierkv: OMP_WAIT_POLICY is not set, so libtorch's OpenMP threads spin between operations and"
                    + " slow everything else down; run with OMP_WAIT_POLICY=PASSIVE (mvn exec:exec sets it)");
        }
    }

    /** The most tokens a block may hold. */
    static final int MAX_BLOCK_SIZE = 4096;

    /** Checks these options' values before any work starts, for a command whose math runs on the CPU only. */
    void validate() {
        validate(false);
    }

    /** Checks these options' values before any work starts; {@code cudaPath}: the command can run on the GPU. */
    void validate(boolean cudaPath) {
        Options.inRange("--block-size", blockSize, 1, MAX_BLOCK_SIZE);
        Options.atLeast("--threads", threads, 0);
        hostBudget();
        String b = backendName();
        if (b.equals("cuda") && !cudaPath) {
            throw new IllegalArgumentException("--backend cuda: this command runs the model on libtorch's CPU build; generate, eval,"
                    + " demo, trace record, bench decode and bench remote run it on the GPU with --backend cuda");
        }
        if (model != null && !java.nio.file.Files.isDirectory(model)) {
            throw new IllegalArgumentException("--model " + model + ": no such directory (expected a Hugging Face model directory)");
        }
    }

    Path modelDir() {
        return BundledModel.orDefault(model);
    }

    /** The {@code --backend} value, checked: auto, cpu or cuda. */
    String backendName() {
        String b = backend.trim().toLowerCase(java.util.Locale.ROOT);
        if (!b.equals("auto") && !b.equals("cpu") && !b.equals("cuda")) {
            throw new IllegalArgumentException("--backend must be auto, cpu or cuda, was '" + backend + "'");
        }
        return b;
    }

    /**
     * Whether the model runs on the GPU, decided once per command after {@link #validate}: {@code cpu} never; {@code cuda}
     * always, or one error line when no usable GPU (or no kernels in the jar) is there; {@code auto} when the command has a
     * CUDA path and {@code BackendSelection} finds a device and the kernels. {@code auto} says on stderr, in one line,
     * which backend it chose and why.
     */
    boolean useCuda(boolean cudaPath) {
        return useCuda(cudaPath ? null : "this command has no CUDA path yet");
    }

    /**
     * As {@link #useCuda(boolean)} for a command whose CUDA path may not run these settings: {@code noCudaPath} says why
     * (null when it can); {@code cuda} then fails with it, {@code auto} picks the CPU and says it.
     */
    boolean useCuda(String noCudaPath) {
        boolean cudaPath = noCudaPath == null;
        String b = backendName();
        if (b.equals("cpu")) {
            return false;
        }
        if (CudaDecoder.hostMirrorConfigured()) { // a rehearsal of the CUDA path: no GPU probed, none used
            if (!cudaPath) {
                if (b.equals("cuda")) {
                    throw new IllegalArgumentException(noCudaPath.startsWith("--") ? noCudaPath : "--backend cuda: " + noCudaPath);
                }
                return false;
            }
            System.err.println("tierkv: backend cuda on the host mirror of the device (-Dtierkv.hostMirror=true): the kernels' Java"
                    + " oracles on the CPU, slow, and nothing it times says anything about a GPU");
            return true;
        }
        io.tierkv.cuda.driver.BackendSelection found = io.tierkv.cuda.driver.BackendSelection.probe("auto");
        boolean gpu = found.backend() == io.tierkv.cuda.driver.Backend.CUDA;
        if (b.equals("cuda")) {
            if (!cudaPath) {
                throw new IllegalArgumentException(noCudaPath.startsWith("--") ? noCudaPath : "--backend cuda: " + noCudaPath);
            }
            if (!gpu) {
                throw new IllegalArgumentException("--backend cuda: no usable GPU: " + found.reason()
                        + " (-Dtierkv.hostMirror=true runs the CUDA path on the CPU's host mirror of the device)");
            }
            System.err.println("tierkv: backend cuda: " + found.reason());
            return true;
        }
        if (gpu && cudaPath) {
            System.err.println("tierkv: backend cuda (auto): " + found.reason());
            return true;
        }
        System.err.println("tierkv: backend cpu (auto): " + (gpu ? noCudaPath + " (" + found.reason() + ")" : found.reason()));
        return false;
    }
}
