package io.tierkv.bench.report;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where one prompt's KV was over time: tokens per layer on the device, on the host and freed, after each
 * step, one line each (and the sequence length, for scale).
 */
public final class ResidencyChart {
    private ResidencyChart() {
    }

    /**
     * Writes {@code steps[i] = {device, host, freed, length}} (tokens per layer after step i) as a PNG.
     *
     * @param xLabel what a step is
     */
    public static void write(Path png, String title, String xLabel, int[][] steps, int width, int height) throws IOException {
        int n = steps.length;
        double[] x = new double[n];
        double[][] y = new double[4][n];
        for (int i = 0; i < n; i++) {
            x[i] = i;
            for (int k = 0; k < 4; k++) {
                y[k][i] = steps[i][k];
            }
        }
        new LineChart(title, xLabel, "tokens per layer")
                .add(new LineChart.Series("device", x, y[0]))
                .add(new LineChart.Series("host", x, y[1]))
                .add(new LineChart.Series("freed", x, y[2]))
                .add(new LineChart.Series("sequence length", x, y[3]))
                .distinguishOverlaps(true)
                .write(png, width, height);
    }
}
