package io.tierkv.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {
    @TempDir
    Path dir;

    private static Report sample() {
        return new Report("demo").setting("trace", "t.tkvt").setting("budgets", List.of("0.1", "64b"))
                .column("policy", "policy", "%s", "name")
                .column("hitRatio", "hit ratio", "%.3f", "hits / requests")
                .column("ratio", "x opt", "%.2f", "to the optimum")
                .row("lru", 0.75, 2.0)
                .row("odd, \"name\"", 0.5, Double.NaN);
    }

    @Test
    void json_hasSettingsColumnsAndRows_nanBecomesNull() throws IOException {
        Path f = dir.resolve("r.json");
        sample().writeJson(f);
        JsonNode root = new ObjectMapper().readTree(f.toFile());
        assertEquals("demo", root.get("report").asText());
        assertEquals("64b", root.get("settings").get("budgets").get(1).asText());
        assertEquals("hitRatio", root.get("columns").get(1).get("name").asText());
        assertEquals(0.75, root.get("rows").get(0).get("hitRatio").asDouble());
        assertTrue(root.get("rows").get(1).get("ratio").isNull());
    }

    @Test
    void csv_quotesCommasAndQuotes_leavesNanEmpty() throws IOException {
        Path f = dir.resolve("r.csv");
        sample().writeCsv(f);
        List<String> lines = Files.readAllLines(f);
        assertEquals("policy,hitRatio,ratio", lines.get(0));
        assertEquals("lru,0.75,2.0", lines.get(1));
        assertEquals("\"odd, \"\"name\"\"\",0.5,", lines.get(2));
    }

    @Test
    void markdown_formatsChosenColumns_andAlignsThem() {
        String md = sample().markdown("policy", "hitRatio");
        String[] lines = md.split("\n");
        // The widest cell is 'odd, "name"' (11 characters).
        assertEquals("| policy      | hit ratio |", lines[0]);
        assertEquals("|-------------|-----------|", lines[1]);
        assertEquals("| lru         |     0.750 |", lines[2]);
        assertThrows(IllegalArgumentException.class, () -> sample().markdown("nope"));
    }

    @Test
    void lineChart_writesAPng() throws IOException {
        Path png = dir.resolve("c.png");
        new LineChart("t", "x", "y").add(new LineChart.Series("a", new double[] {0.1, 0.5}, new double[] {0.3, 0.9})).write(png, 300, 200);
        byte[] b = Files.readAllBytes(png);
        assertTrue(b.length > 100 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G');
    }
}
