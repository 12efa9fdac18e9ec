package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalReportTypesTest {

    /**
     * Two prompts per position draw only some question types: the by-type table shows the others as "-", not as 0% (which
     * read as every such question answered wrong), and the drawn ones as their accuracy from eval.json.
     */
    @Test
    void aPolicyListedTwice_isRefused() {
        CliRun run = CliRun.of("eval", "--prompts", "1", "--policies", "full,hierarchical,full");
        assertEquals(2, run.rc());
        assertTrue(run.err().contains("--policies lists 'full' twice"), run.err());
    }

    @Test
    void aQuestionTypeThePromptsDrewNoneOf_readsAsADash_notAsZeroPercent(@TempDir Path dir) throws Exception {
        CliRun run = CliRun.of("eval", "--prompts", "2", "--rounds", "1", "--policies", "full", "--out", dir.toString());
        assertEquals(0, run.rc(), run.err());

        JsonNode rows = new ObjectMapper().readTree(dir.resolve("eval.json").toFile()).get("rows");
        List<String> expected = new ArrayList<>();
        for (String type : new String[] {"tf", "fill", "mc", "match"}) {
            String[] cells = new String[2];
            for (JsonNode row : rows) {
                if (row.get("policy").asText().equals("full") && row.get("round").asText().equals("all")
                        && row.get("questionType").asText().equals(type)) {
                    int side = row.get("position").asText().equals("before") ? 0 : 1;
                    int total = row.get("total").asInt();
                    cells[side] = total == 0 ? "-" : String.format(java.util.Locale.ROOT, "%.1f", 100.0 * row.get("correct").asInt() / total);
                }
            }
            expected.add(String.format(java.util.Locale.ROOT, "%5s / %5s", cells[0], cells[1]));
        }
        assertTrue(expected.stream().anyMatch(c -> c.contains("-")), "two prompts per position left a type undrawn: " + expected);

        for (JsonNode row : rows) { // a cell no prompt reached measured nothing: null, not 0 (or 1 for the host read)
            if (row.get("total").asInt() == 0) {
                for (String field : new String[] {"accuracy", "kvKeptMean", "tokensPerSecond", "hostReadFraction", "d2hPerToken"}) {
                    assertTrue(row.get(field).isNull(), field + " of " + row);
                }
            }
        }
        assertTrue(run.out().contains("(and eval.csv, eval.jsonl, *.png)"), "plots were written");

        String byType = run.out().substring(run.out().indexOf("Accuracy by question type"));
        String line = byType.lines().filter(l -> l.startsWith("| full ")).findFirst().orElseThrow();
        String[] cells = line.split("\\|");
        for (int t = 0; t < 4; t++) {
            assertEquals(expected.get(t).trim(), cells[t + 2].trim(), line);
        }
    }
}
