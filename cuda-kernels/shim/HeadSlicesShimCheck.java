import io.tierkv.model.generate.HeadSlices;
import io.tierkv.model.generate.HostRead;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Holds {@code head_slices.cu}, run as host C++ under {@code cuda_shim.h} ({@code head_slices_run}), to model's
 * {@link HeadSlices} on random cases: Gaussian scores, many ties, many {@code +-inf}, heads with only {@code -inf}, NaN scores, caps
 * from device memory and {@code min} gates, from one block to more (block, KV head) pairs than the CTA has threads. A
 * development check for when no GPU is at hand (see README.md here), not part of the build.
 *
 * <pre>
 *   g++ -std=c++20 -O1 -pthread -o cuda-kernels/shim/head_slices_run cuda-kernels/shim/head_slices_run.cpp
 *   java -cp model/target/classes:cuda-kernels/target/classes:core/target/classes cuda-kernels/shim/HeadSlicesShimCheck.java SEED CASES
 * </pre>
 */
public class HeadSlicesShimCheck {
    /** {n, heads, kvHeads} per case, in turn. */
    static final int[][] SHAPES = {{1, 4, 2}, {7, 8, 4}, {33, 32, 8}, {300, 12, 4}, {600, 32, 8}, {64, 16, 16}, {5, 2, 1}, {1100, 8, 1}};

    public static void main(String[] args) throws IOException, InterruptedException {
        SplittableRandom r = new SplittableRandom(Long.parseLong(args[0]));
        int cases = Integer.parseInt(args[1]);
        StringBuilder in = new StringBuilder();
        List<String> want = new ArrayList<>();
        for (int c = 0; c < cases; c++) {
            int[] shape = SHAPES[c % SHAPES.length];
            int n = shape[0];
            int heads = shape[1];
            int kvHeads = shape[2];
            int cap = r.nextInt(1, 3 * kvHeads + 20);
            int capFrom = r.nextInt(3) == 0 ? r.nextInt(0, cap + 5) : -1;
            double min = r.nextInt(3) == 0 ? new double[] {0.01, 0.05, 0.3}[r.nextInt(3)] : 0;
            float[] scores = scores(r, c % 6, n, heads);
            HeadSlices slices = new HeadSlices(HostRead.DEFAULT, heads, kvHeads);
            int taken = slices.choose(scores.clone(), n, capFrom < 0 ? cap : Math.min(cap, capFrom), min);
            StringBuilder w = new StringBuilder().append(taken);
            for (int i = 0; i < n; i++) {
                for (int kh = 0; kh < kvHeads; kh++) {
                    w.append(' ').append(slices.headChosen(i, kh) ? 1 : 0);
                }
            }
            want.add(w.toString());
            in.append(n).append(' ').append(heads).append(' ').append(kvHeads).append(' ').append(cap).append(' ').append(capFrom)
                    .append(' ').append(min == 0 ? "-inf" : Double.toString(Math.log(min))).append('\n');
            for (float x : scores) {
                in.append(Integer.toHexString(Float.floatToRawIntBits(x))).append(' ');
            }
            in.append('\n');
        }
        Path input = Files.createTempFile("head-slices-cases", ".txt");
        Path output = Files.createTempFile("head-slices-got", ".txt");
        Files.writeString(input, in);
        Process p = new ProcessBuilder("cuda-kernels/shim/head_slices_run").redirectInput(input.toFile()).redirectOutput(output.toFile())
                .start();
        int rc = p.waitFor();
        List<String> got = Files.readAllLines(output);
        Files.delete(input);
        Files.delete(output);
        int bad = 0;
        for (int c = 0; c < cases; c++) {
            String g = c < got.size() ? got.get(c).trim() : "<missing>";
            if (!g.equals(want.get(c)) && bad++ < 3) {
                System.out.println("case " + c + " differs:\n  want " + clip(want.get(c)) + "\n  got  " + clip(g));
            }
        }
        System.out.println(cases + " cases, " + bad + " differ (runner exit " + rc + ")");
        System.exit(bad == 0 && rc == 0 ? 0 : 1);
    }

    /**
     * Scores of one kind: 0 Gaussian, 1 many ties, 2 many +-inf, 3 half the heads only -inf, 4 some NaN, 5 the first
     * head only NaN (a NaN is never chosen past a KV head's first slice; a head of NaN values reads block 0).
     */
    static float[] scores(SplittableRandom r, int kind, int n, int heads) {
        float[] s = new float[n * heads];
        for (int i = 0; i < s.length; i++) {
            int k = r.nextInt(20);
            s[i] = switch (kind) {
                case 0 -> (float) r.nextGaussian() * 3;
                case 1 -> k < 12 ? 1.5f : (float) (r.nextInt(4) * 0.5);
                case 2 -> k == 0 ? Float.POSITIVE_INFINITY : k < 6 ? Float.NEGATIVE_INFINITY : (float) r.nextGaussian();
                case 3 -> (i % heads) < heads / 2 ? Float.NEGATIVE_INFINITY : (float) r.nextGaussian() * 10;
                case 4 -> k == 0 ? Float.NaN : k == 1 ? Float.POSITIVE_INFINITY : (float) r.nextGaussian() * 3;
                default -> i % heads == 0 ? Float.NaN : (float) r.nextGaussian() * 3;
            };
        }
        return s;
    }

    private static String clip(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
