package io.tierkv.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Rectangle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.LegendItem;
import org.jfree.chart.LegendItemCollection;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
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

    private static final Color CACHE = new Color(0xd6, 0x27, 0x28);
    private static final Color NORMAL = new Color(0xff, 0x9f, 0x1c);
    private static final Color LOW = new Color(0x1f, 0x77, 0xb4);
    private static final Color EVICT = new Color(0xbb, 0xbb, 0xbb);

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
        scale.add(-0.5, CACHE);
        scale.add(0.5, NORMAL);
        scale.add(1.5, LOW);
        scale.add(2.5, EVICT);
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);
        NumberAxis x = new NumberAxis(xLabel);
        NumberAxis y = new NumberAxis("token position");
        y.setInverted(true);
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        // A categorical legend: one swatch per level, not a numeric colour bar.
        LegendItemCollection items = new LegendItemCollection();
        // Levels only: where a block lives is the placement's choice (residency-*.png), and EVICT is freed in drop mode only.
        String[] names = {"CACHE", "NORMAL", "LOW", "EVICT (freed in drop mode)", "absent (not yet arrived)"};
        Color[] colors = {CACHE, NORMAL, LOW, EVICT, Color.WHITE};
        for (int i = 0; i < names.length; i++) {
            LegendItem item = new LegendItem(names[i], null, null, null, new Rectangle(-6, -6, 12, 12), colors[i], new BasicStroke(0.8f), Color.DARK_GRAY);
            items.add(item);
        }
        plot.setFixedLegendItems(items);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.getLegend().setPosition(RectangleEdge.BOTTOM);
        chart.setBackgroundPaint(Color.WHITE);
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        io.tierkv.core.io.AtomicFiles.write(png, out -> ChartUtils.writeChartAsPNG(out, chart, width, height)); // whole or not at all
    }
}
