package io.tierkv.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogarithmicAxis;
import org.jfree.chart.plot.DefaultDrawingSupplier;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.SeriesRenderingOrder;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * A PNG line chart, one line per series, drawn with JFreeChart in headless mode (no display needed:
 * {@code java.awt.headless} is set before AWT loads).
 */
public final class LineChart {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** One line: a name for the legend and its points. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series " + name + " has " + x.length + " x and " + y.length + " y values");
            }
        }
    }

    /** Line colours that stay apart on white (no pale yellow), reused in order. */
    private static final Color[] PALETTE = {
        new Color(0xd6, 0x27, 0x28), new Color(0x1f, 0x77, 0xb4), new Color(0x2c, 0xa0, 0x2c), new Color(0xff, 0x7f, 0x0e),
        new Color(0x94, 0x67, 0xbd), new Color(0x17, 0xbe, 0xcf), new Color(0x8c, 0x56, 0x4b), new Color(0x7f, 0x7f, 0x7f),
        new Color(0xe3, 0x77, 0xc2), new Color(0xbc, 0xbd, 0x22)
    };

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();
    private boolean logX;
    private boolean fitY;
    private boolean logY;
    private boolean distinguish;

    public LineChart(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public LineChart add(Series s) {
        series.add(s);
        return this;
    }

    /** Plots x on a log scale (points at or below 0 are left out). */
    public LineChart logX(boolean on) {
        this.logX = on;
        return this;
    }

    /** Fits the y axis to the data instead of starting it at zero. */
    public LineChart fitY(boolean on) {
        this.fitY = on;
        return this;
    }

    /** Plots y on a log scale (points at or below 0 are left out). */
    public LineChart logY(boolean on) {
        this.logY = on;
        return this;
    }

    /**
     * Keeps coinciding lines readable: each series gets its own marker shape, drawn at staggered points
     * (series i marks every k-th point from offset i * k / n), and the later lines are drawn thinner and
     * dashed, so that a line hidden under another still shows its markers and dashes.
     */
    public LineChart distinguishOverlaps(boolean on) {
        this.distinguish = on;
        return this;
    }

    /** Writes the chart as a PNG of {@code width x height} pixels. */
    public void write(Path png, int width, int height) throws IOException {
        JFreeChart chart = chart();
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        io.tierkv.core.io.AtomicFiles.write(png, out -> ChartUtils.writeChartAsPNG(out, chart, width, height)); // whole or not at all
    }

    /** The chart {@link #write} draws. */
    JFreeChart chart() {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Series s : series) {
            XYSeries xy = new XYSeries(s.name(), false, true);
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i]) && (!logY || s.y()[i] > 0) && (!logX || s.x()[i] > 0)) {
                    xy.add(s.x()[i], s.y()[i]);
                }
            }
            data.addSeries(xy);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer renderer = distinguish ? new StaggeredRenderer(series.size(), markEvery()) : new XYLineAndShapeRenderer(true, true);
        Shape[] shapes = DefaultDrawingSupplier.createStandardSeriesShapes();
        for (int i = 0; i < series.size(); i++) {
            renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
            // past the palette's ten colours the marker moves on by one more, so no two of 100 series share colour and marker
            renderer.setSeriesShape(i, shapes[(i + i / PALETTE.length) % shapes.length]);
            if (distinguish) {
                float stroke = Math.max(1.2f, 3.5f - 0.6f * i);
                renderer.setSeriesStroke(i, i == 0 ? new BasicStroke(stroke)
                        : new BasicStroke(stroke, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {8f + 2 * i, 4f + i}, 0f));
                renderer.setSeriesShapesVisible(i, true);
            } else {
                renderer.setSeriesStroke(i, new BasicStroke(2f));
            }
        }
        plot.setRenderer(renderer);
        if (distinguish) {
            plot.setSeriesRenderingOrder(SeriesRenderingOrder.FORWARD); // the thinner, dashed later lines on top
        }
        if (logX) { // fitted to the data (rounding out to the next power of ten would leave most of the width empty)
            LogarithmicAxis axis = new LogarithmicAxis(xLabel);
            axis.setAllowNegativesFlag(false);
            axis.setAutoRangeNextLogFlag(false);
            plot.setDomainAxis(axis);
        }
        if (fitY && !logY && plot.getRangeAxis() instanceof org.jfree.chart.axis.NumberAxis y) {
            y.setAutoRangeIncludesZero(false);
        }
        if (logY) {
            LogarithmicAxis axis = new LogarithmicAxis(yLabel);
            axis.setAllowNegativesFlag(false);
            axis.setAutoRangeNextLogFlag(true);
            plot.setRangeAxis(axis);
        }
        return chart;
    }

    /** Marker spacing: about 12 markers along the longest series. */
    private int markEvery() {
        int n = 0;
        for (Series s : series) {
            n = Math.max(n, s.x().length);
        }
        return Math.max(1, n / 12);
    }

    /** Draws series i's marker only at points {@code (j - offset_i) % every == 0}, offsets spread over the series. */
    private static final class StaggeredRenderer extends XYLineAndShapeRenderer {
        private static final long serialVersionUID = 1L;
        private final int count;
        private final int every;

        StaggeredRenderer(int count, int every) {
            super(true, true);
            this.count = Math.max(1, count);
            this.every = every;
        }

        @Override
        public boolean getItemShapeVisible(int series, int item) {
            int offset = series * every / count;
            return item >= offset && (item - offset) % every == 0;
        }
    }
}
