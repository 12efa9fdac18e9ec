package io.tierkv.model.cuda;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The decoder conformance fixture: greedy tokens and last-step logits of the libtorch CPU decoder on the bundled model
 * for a few of the demo's prompts ({@code decoder-fixture.json} next to this class). Torch-free, so that the GPU check
 * bundle can read it. {@code CpuDecoderFixtureTest} checks it against the CPU decoder on every build and rewrites it with
 * {@code -Dtierkv.fixture.write=true}; {@code CudaDecoderGpuTest} holds the CUDA decoder to it.
 *
 * @param model      what produced it (the bundled model's config, for the record)
 * @param cases      one per prompt
 */
public record DecoderFixture(String model, List<Case> cases) {
    /** The resource, and where it lives in a source checkout (run from the repository root or from model/). */
    public static final String RESOURCE = "/io/tierkv/model/cuda/decoder-fixture.json";
    public static final String SOURCE = "src/test/resources/io/tierkv/model/cuda/decoder-fixture.json";
    /** The system property that makes {@code CpuDecoderFixtureTest} rewrite the fixture instead of checking it. */
    public static final String WRITE_PROPERTY = "tierkv.fixture.write";
    /** Tokens each case generates. */
    public static final int NEW_TOKENS = 24;
    /**
     * How far the CUDA decoder's last-step logits may be from the CPU decoder's: absolute, on logits of order 10.
     * fp32 on both sides; the device sums in another order (GEMV lanes, split attention) and reads the same F32
     * weights, so the expected difference is ~1e-5 per layer; 2e-3 leaves room without hiding a wrong operation
     * (a missing bias, residual or RoPE shift moves logits by O(0.1) or more).
     */
    public static final double GPU_LOGIT_TOLERANCE = 2e-3;

    /**
     * One prompt.
     *
     * @param name       how the demo names it (type/position #index)
     * @param prompt     prompt token ids
     * @param tokens     the greedy continuation, {@link #NEW_TOKENS} long (no stop at end-of-sequence)
     * @param lastLogits the logits that chose the last token
     * @param minMargin  over all steps, the smallest gap between the best and second-best logit: greedy tokens are a
     *                   fair demand of another backend only when this exceeds twice its logit tolerance
     */
    public record Case(String name, int[] prompt, int[] tokens, float[] lastLogits, double minMargin) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The committed fixture, from the class path. */
    public static DecoderFixture load() {
        try (InputStream in = DecoderFixture.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is not on the class path; write it with -D" + WRITE_PROPERTY + "=true");
            }
            return JSON.readValue(in, DecoderFixture.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    /** Writes the fixture to {@code file}. */
    public void write(Path file) {
        try {
            Files.createDirectories(file.getParent());
            JSON.writeValue(file.toFile(), this);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** The largest absolute difference of two logit rows of the same length. */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("logit rows of " + a.length + " and " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    /** The gap between the largest and the second-largest logit. */
    public static double margin(float[] logits) {
        double best = Double.NEGATIVE_INFINITY;
        double second = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            if (l > best) {
                second = best;
                best = l;
            } else if (l > second) {
                second = l;
            }
        }
        return best - second;
    }
}
