package io.tierkv.bench.report;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.DefaultXYZDataset;

/**
 * The paper's popularity plot: token position (y) against time (x), each cell coloured by the token's
 * level (CACHE, NORMAL, LOW, EVICT; white before the token arrives). Headless JFreeChart.
 */
public final class LevelHeatmap {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private LevelHeatmap() {
    }

    /**
     * Writes {@code levels[step][token]} (codes 0..3, -1 for not yet arrived) as a PNG.
     *
     * @param xLabel what a step is (generated token, prompt chunk)
     */
    public static void write(Path png, String title, String xLabel, byte[][] levels, int width, int height) throws IOException {
        int steps = levels.length;
        int tokens = steps == 0 ? 0 : levels[0].length;
        double[] xs = new double[steps * tokens];
        double[] ys = new double[steps * tokens];
        double[] zs = new double[steps * tokens];
        int n = 0;
        for (int s = 0; s < steps; s++) {
            for (int t = 0; t < tokens; t++) {
                xs[n] = s;
                ys[n] = t;
                zs[n] = levels[s][t];
                n++;
            }
        }
        DefaultXYZDataset data = new DefaultXYZDataset();
        data.addSeries("levels", new double[][] {xs, ys, zs});
        LookupPaintScale scale = new LookupPaintScale(-1.5, 3.5, Color.WHITE);
        scale.add(-1.5, Color.WHITE);
        scale.add(-0.5, new Color(0xd6, 0x27, 0x28)); // CACHE
        scale.add(0.5, new Color(0xff, 0x9f, 0x1c));  // NORMAL
        scale.add(1.5, new Color(0x1f, 0x77, 0xb4));  // LOW (host)
        scale.add(2.5, new Color(0xdd, 0xdd, 0xdd));  // EVICT
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);
        NumberAxis x = new NumberAxis(xLabel);
        NumberAxis y = new NumberAxis("token position");
        y.setInverted(true);
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, false);
        NumberAxis legendAxis = new NumberAxis("level: -1 not yet, 0 CACHE, 1 NORMAL, 2 LOW (host), 3 EVICT");
        legendAxis.setRange(-1.5, 3.5);
        legendAxis.setTickUnit(new org.jfree.chart.axis.NumberTickUnit(1));
        PaintScaleLegend legend = new PaintScaleLegend(scale, legendAxis);
        legend.setPosition(RectangleEdge.BOTTOM);
        chart.addSubtitle(legend);
        chart.setBackgroundPaint(Color.WHITE);
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        io.tierkv.core.io.AtomicFiles.write(png, out -> ChartUtils.writeChartAsPNG(out, chart, width, height)); // whole or not at all
    }
}
