package io.tierkv.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotsTest {
    @TempDir
    Path dir;

    @Test
    void residencyChart_writesAPngOfTheAskedSize() throws IOException {
        int[][] steps = new int[30][];
        for (int i = 0; i < steps.length; i++) {
            steps[i] = new int[] {100, 300 + i, i / 3, 400 + i};
        }
        Path png = dir.resolve("residency.png");
        ResidencyChart.write(png, "residency", "step", steps, 640, 400);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(640, img.getWidth());
        assertEquals(400, img.getHeight());
    }

    @Test
    void levelHeatmap_drawsTheLegendsSwatches() throws IOException {
        byte[][] levels = new byte[20][40];
        for (int s = 0; s < levels.length; s++) {
            for (int t = 0; t < 40; t++) {
                levels[s][t] = (byte) (t > 20 + s ? -1 : t % 4);
            }
        }
        Path png = dir.resolve("levels.png");
        LevelHeatmap.write(png, "levels", "step", levels, 640, 480);
        BufferedImage img = ImageIO.read(png.toFile());
        // The LOW swatch's blue appears (in the plot and the legend): the categorical colours are drawn.
        boolean blue = false;
        for (int y = 0; y < img.getHeight() && !blue; y++) {
            for (int x = 0; x < img.getWidth() && !blue; x++) {
                blue = (img.getRGB(x, y) & 0xffffff) == 0x1f77b4;
            }
        }
        assertTrue(blue);
    }

    /** Past the palette's ten colours a series still differs from every other in colour or marker (host-read-curve draws 12). */
    @Test
    void twelveSeries_neverShareBothColourAndMarker() {
        for (boolean distinguish : new boolean[] {false, true}) {
            LineChart chart = new LineChart("many", "x", "y").distinguishOverlaps(distinguish);
            for (int i = 0; i < 12; i++) {
                chart.add(new LineChart.Series("s" + i, new double[] {0, 1}, new double[] {i, i + 1}));
            }
            var renderer = chart.chart().getXYPlot().getRenderer();
            for (int i = 0; i < 12; i++) {
                for (int j = i + 1; j < 12; j++) {
                    boolean sameColour = renderer.getSeriesPaint(i).equals(renderer.getSeriesPaint(j));
                    boolean sameMarker = new java.awt.geom.Area(renderer.getSeriesShape(i)).equals(new java.awt.geom.Area(renderer.getSeriesShape(j)));
                    assertTrue(!(sameColour && sameMarker), "series " + i + " and " + j + " look alike (distinguish " + distinguish + ")");
                }
            }
        }
    }

    @Test
    void coincidingLines_bothShowTheirColour() throws IOException {
        double[] x = new double[50];
        double[] y = new double[50];
        for (int i = 0; i < x.length; i++) {
            x[i] = i;
            y[i] = 100 + i;
        }
        Path png = dir.resolve("same.png");
        new LineChart("same", "x", "y").add(new LineChart.Series("a", x, y)).add(new LineChart.Series("b", x, y.clone()))
                .distinguishOverlaps(true).write(png, 640, 400);
        BufferedImage img = ImageIO.read(png.toFile());
        int red = 0;
        int blue = 0;
        // Count only the plot area (the legend's swatches aside): above the bottom 60 pixels.
        for (int yy = 0; yy < img.getHeight() - 60; yy++) {
            for (int xx = 0; xx < img.getWidth(); xx++) {
                int rgb = img.getRGB(xx, yy) & 0xffffff;
                red += rgb == 0xd62728 ? 1 : 0;
                blue += rgb == 0x1f77b4 ? 1 : 0;
            }
        }
        assertTrue(red > 50, "the first line shows: " + red);
        assertTrue(blue > 50, "the second line, drawn on top of the first, shows: " + blue);
    }
}
