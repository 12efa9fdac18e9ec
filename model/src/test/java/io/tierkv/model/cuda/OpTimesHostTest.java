package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@link OpTimes} on the host mirror: with {@code -Dtierkv.opTimes=true} a tiered decoder reports its decode steps'
 * operations per token (the kernels every step launches, at their counts per token), generates the same tokens as
 * without it, and reports nothing when off.
 */
class OpTimesHostTest {
    private static final int NEW_TOKENS = 6;

    @Test
    void opTimes_countEachStepsOperations_andChangeNoToken() {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int[] plain;
        try (CudaDecoder d = CudaDecoder.loadTiered(BundledModel.directory(), prompt.length + NEW_TOKENS, 16, 2, "hierarchical", null,
                HostRead.EXACT, true)) {
            plain = d.generate(prompt, NEW_TOKENS, -1, null).tokens();
            assertNull(d.opTimesReport(), "off by default");
        }
        String before = System.getProperty("tierkv.opTimes");
        System.setProperty("tierkv.opTimes", "true");
        try (CudaDecoder d = CudaDecoder.loadTiered(BundledModel.directory(), prompt.length + NEW_TOKENS, 16, 2, "hierarchical", null,
                HostRead.EXACT, true)) {
            GenerationResult g = d.generate(prompt, NEW_TOKENS, -1, null);
            assertEquals(java.util.Arrays.toString(plain), java.util.Arrays.toString(g.tokens()), "the same tokens, timed");
            String report = d.opTimesReport();
            int layers = d.config().layers();
            // every step embeds once and attends once per layer (both tiers in one launch)
            assertEquals(1.0, callsPerToken(report, "embed"), 1e-9, report);
            assertEquals(layers, callsPerToken(report, "attendParts"), 1e-9, report);
            assertTrue(report.endsWith(" per token"), report);
        } finally {
            if (before == null) {
                System.clearProperty("tierkv.opTimes");
            } else {
                System.setProperty("tierkv.opTimes", before);
            }
        }
    }

    private static double callsPerToken(String report, String op) {
        Matcher m = Pattern.compile("(?:^|, )" + op + " [0-9.]+ us \\(([0-9.]+) calls\\)").matcher(report);
        assertTrue(m.find(), op + " in " + report);
        return Double.parseDouble(m.group(1));
    }
}
