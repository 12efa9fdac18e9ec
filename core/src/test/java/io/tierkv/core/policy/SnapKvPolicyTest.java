package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * SnapKV's kept set: the observation window (the last {@code window} prompt queries) votes for the earlier
 * prompt tokens, votes are pooled over neighbours, the best {@code budget - window} are kept with the
 * window itself, and generated tokens are all kept.
 */
class SnapKvPolicyTest {

    @Test
    void observationWindow_votesAreSummedOverItsQueries_topBudgetMinusWindowKept() {
        // prompt 10, window 2 (queries 8 and 9 vote), kernel 1 (no pooling), budget 5 -> keep 3 of 0..7
        //   row 8: token 2 .5, token 5 .3, token 8 .2
        //   row 9: token 2 .25, token 6 .5, token 9 .25
        //   votes: 2 .75, 6 .5, 5 .3, the rest 0 (8 and 9 are the window: always kept)
        Driver d = Driver.bounded("snapkv:window=2,kernel=1", 1, 10, 5);
        assertEquals(2, d.policy.prefillRows(10));
        Driver.Rows rows = (l, q, row) -> {
            if (q == 8) {
                row[2] = 0.5f;
                row[5] = 0.3f;
                row[8] = 0.2f;
            } else if (q == 9) {
                row[2] = 0.25f;
                row[6] = 0.5f;
                row[9] = 0.25f;
            } else {
                throw new AssertionError("row " + q + " was not asked for");
            }
        };
        assertEquals("[0:0 NORMAL->EVICT, 0:1 NORMAL->EVICT, 0:3 NORMAL->EVICT, 0:4 NORMAL->EVICT, 0:7 NORMAL->EVICT]",
                d.prefill(10, rows).toString());
        assertEquals(List.of(2, 5, 6, 8, 9), d.live(0));
    }

    /** Prompt 14, window 2, budget 5: keep 3 of the candidates 0..11 after pooling with kernel 5. */
    private static Driver pooled(String pool) {
        Driver d = Driver.bounded("snapkv:window=2,kernel=5,pool=" + pool, 1, 14, 5);
        // votes: token 3 .5, token 5 .5, token 10 .75
        d.prefill(14, (l, q, row) -> {
            row[3] = 0.25f;
            row[5] = 0.25f;
            row[10] = q == 12 ? 0.5f : 0.25f;
            if (q == 13) {
                row[13] = 0.25f;
            }
        });
        return d;
    }

    @Test
    void maxPooling_spreadsEachPeakOverFiveNeighbours() {
        // max over [t-2, t+2] within 0..11:
        //   t      0  1  2  3  4  5  6  7  8   9   10  11
        //   pooled 0 .5 .5 .5 .5 .5 .5 .5 .75 .75 .75 .75  -> top 3: 8, 9, 10 (tie with 11: lower wins)
        Driver d = pooled("max");
        assertEquals(List.of(8, 9, 10, 12, 13), d.live(0));
    }

    @Test
    void avgPooling_favoursClusters_countingThePadding() {
        // sum over [t-2, t+2] / 5 (count_include_pad, as F.avg_pool1d):
        //   t      0  1  2  3  4  5  6  7  8   9   10  11
        //   pooled 0 .1 .1 .2 .2 .2 .1 .1 .15 .15 .15 .15  -> top 3: 3, 4, 5 (the two .5 votes together)
        Driver d = pooled("avg");
        assertEquals(List.of(3, 4, 5, 12, 13), d.live(0));
    }

    @Test
    void defaults_areWindow32KernelFiveMaxPooling() {
        KvPolicy p = Policies.create("snapkv");
        assertEquals("snapkv", p.name());
        assertEquals(32, p.prefillRows(1000));
        assertEquals(7, p.prefillRows(7));
        // same answer as the explicit max pooling with kernel 5
        Driver implicit = Driver.bounded("snapkv:window=2", 1, 14, 5);
        implicit.prefill(14, (l, q, row) -> {
            row[3] = 0.25f;
            row[5] = 0.25f;
            row[10] = q == 12 ? 0.5f : 0.25f;
            if (q == 13) {
                row[13] = 0.25f;
            }
        });
        assertEquals(pooled("max").live(0), implicit.live(0));
    }

    @Test
    void generatedTokens_areAllKept() {
        Driver d = Driver.bounded("snapkv:window=2,kernel=1", 2, 10, 5);
        d.prefill(10, (l, q, row) -> row[0] = 1f);
        assertEquals(5, d.policy.liveTokens(1));
        for (int s = 0; s < 30; s++) {
            assertTrue(d.decodeAttending(3).isEmpty());
        }
        assertEquals(35, d.policy.liveTokens(0));
        assertEquals(35, d.policy.liveTokens(1));
    }

    @Test
    void promptWithinBudget_orNoBudget_keepsEverything() {
        assertTrue(Driver.bounded("snapkv:window=2", 1, 10, 10).prefill(10).isEmpty());
        assertTrue(Driver.of("snapkv:window=2", 1, 10).prefill(10).isEmpty());
    }

    @Test
    void rowsBeforeTheObservationWindow_doNotVote() {
        // In chunked mode the driver shows every prompt row; only the last two may vote.
        Driver d = Driver.bounded("snapkv:window=2,kernel=1", 1, 6, 3);
        d.policy.append(6);
        float[] early = new float[4];
        early[0] = 1f;
        d.policy.observe(0, 3, early, 0, 1, 4, 4); // query 3 < 6 - 2: ignored
        float[] late = new float[6];
        late[2] = 1f;
        d.policy.observe(0, 4, late, 0, 1, 6, 6);
        d.policy.observe(0, 5, late, 0, 1, 6, 6);
        d.policy.endPrefill(d.out);
        assertEquals(List.of(2, 4, 5), d.live(0));
    }

    @Test
    void questionBeforeThePassage_isEvicted_theBlindSpotThePaperPointsOut() {
        // prompt: question 0..3, passage 4..19; the observation window (16..19) sits in the passage and
        // attends to its three predecessors (weights .4 .3 .2) and itself (.1), so its votes never reach
        // the question: votes 15 .9, 14 .5, 13 .2, all else 0; budget 7 keeps 3 candidates + the window
        Driver questionFirst = Driver.bounded("snapkv:window=4,kernel=1", 1, 20, 7);
        questionFirst.prefill(20, (l, q, row) -> Driver.spread(row, q - 1, q - 2, q - 3, q));
        assertEquals(List.of(13, 14, 15, 16, 17, 18, 19), questionFirst.live(0));
        for (int t = 0; t < 4; t++) {
            assertEquals(io.tierkv.core.Level.EVICT, questionFirst.level(0, t), "question token " + t);
        }
        // the answer would need the question now, but it is gone for good; the hierarchical policy keeps
        // every token through its first window, and one the answer keeps reading stays for good
        Driver hierarchical = Driver.of("hierarchical:k=4", 1, 20);
        hierarchical.prefill(20);
        for (int s = 0; s < 80; s++) {
            hierarchical.decode((l, q, row) -> Driver.spread(row, 0, 1, 2, 3));
        }
        for (int t = 0; t < 4; t++) {
            assertEquals(io.tierkv.core.Level.CACHE, hierarchical.level(0, t), "question token " + t);
        }
    }

    @Test
    void budgetNoBiggerThanTheWindow_isRejectedNamingBoth() {
        KvPolicy p = Policies.create("snapkv:window=8");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.start(PolicyContext.bounded(1, 100, 8)));
        assertEquals("snapkv: a budget of 8 tokens does not exceed the observation window of 8", e.getMessage());
        // a prompt that fits needs no selection, so a small budget is fine then
        Policies.create("snapkv:window=8").start(PolicyContext.bounded(1, 8, 8));
    }

    @Test
    void badOptions_areRejectedNamingTheOption() {
        assertEquals("snapkv: kernel must be odd and > 0, was 4",
                assertThrows(IllegalArgumentException.class, () -> Policies.create("snapkv:kernel=4")).getMessage());
        assertEquals("snapkv: window must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> Policies.create("snapkv:window=0")).getMessage());
        assertEquals("snapkv: pool must be max or avg, was median",
                assertThrows(IllegalArgumentException.class, () -> Policies.create("snapkv:pool=median")).getMessage());
    }
}
