package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Transitions;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * H2O's kept set: heavy hitters by attention accumulated over every query so far, plus the most recent
 * tokens; with budget 4 and the default heavy fraction .5, two heavy and two recent.
 */
class H2oPolicyTest {

    /** Prompt rows (causal: row q has q + 1 keys); scores accumulate over all of them. */
    private static final Driver.Rows PROMPT_ROWS = (l, q, row) -> {
        switch (q) {
            case 0: row[0] = 1f; break;
            case 1: row[0] = 0.5f; row[1] = 0.5f; break;
            case 2: row[0] = 0.5f; row[2] = 0.5f; break;
            case 3: row[1] = 0.25f; row[3] = 0.75f; break;
            case 4: row[2] = 0.5f; row[4] = 0.5f; break;
            case 5: row[0] = 0.25f; row[5] = 0.75f; break;
            default: throw new AssertionError("row " + q);
        }
    };

    @Test
    void prefill_keepsTopAccumulatedScoresAmongOlderTokens_plusTheRecentOnes() {
        // scores: 0: 1+.5+.5+.25 = 2.25, 1: .5+.25 = .75, 2: .5+.5 = 1, 3: .75, 4: .5, 5: .75
        // candidates 0..3 (4 and 5 are recent), keep 2: 0 (2.25) and 2 (1)
        Driver d = Driver.bounded("h2o", 1, 6, 4);
        assertEquals(Integer.MAX_VALUE, d.policy.prefillRows(6));
        assertEquals("[0:1 NORMAL->EVICT, 0:3 NORMAL->EVICT]", d.prefill(6, PROMPT_ROWS).toString());
        assertEquals(List.of(0, 2, 4, 5), d.live(0));
        H2oPolicy h = (H2oPolicy) d.policy;
        assertEquals(2.25f, h.score(0, 0));
        assertEquals(1f, h.score(0, 2));
    }

    @Test
    void decode_evictsTheLowestScoredOlderToken_olderOneOnTies() {
        Driver d = Driver.bounded("h2o", 1, 6, 4);
        d.prefill(6, PROMPT_ROWS);
        // token 6 arrives; its row gives 4 .5 and 6 .5: scores 0 2.25, 2 1, 4 1 -> 2 and 4 tie, 2 is older
        assertEquals("[0:2 NORMAL->EVICT]", d.decode((l, q, row) -> {
            row[4] = 0.5f;
            row[6] = 0.5f;
        }).toString());
        assertEquals(List.of(0, 4, 5, 6), d.live(0));
        // token 7: 5 gets .25 (1 in all), 7 .75; candidates 0 2.25, 4 1, 5 1 -> 4 goes (older of the tie)
        assertEquals("[0:4 NORMAL->EVICT]", d.decode((l, q, row) -> {
            row[5] = 0.25f;
            row[7] = 0.75f;
        }).toString());
        assertEquals(List.of(0, 5, 6, 7), d.live(0));
        // generated queries count too: 0 keeps growing
        assertEquals(2.25f, ((H2oPolicy) d.policy).score(0, 0));
        d.decodeAttending(0);
        assertEquals(3.25f, ((H2oPolicy) d.policy).score(0, 0));
    }

    @Test
    void prefill_tiedScores_evictTheOlderTokens_asDecodeDoes() {
        // every prompt query attends only to itself: all scores 1; candidates 0..3 tie, keep 2
        // "the non-recent token with the lowest score goes (the older one on ties)": 0 and 1 go
        Driver d = Driver.bounded("h2o", 1, 6, 4);
        assertEquals("[0:0 NORMAL->EVICT, 0:1 NORMAL->EVICT]", d.prefill(6, (l, q, row) -> row[q] = 1f).toString());
        assertEquals(List.of(2, 3, 4, 5), d.live(0));
    }

    @Test
    void chunkedPrefill_withTies_keepsExactlyTheBudget() {
        // Chunked mode: step() after every prompt token evicts as it goes, then endPrefill() runs once more.
        //   t0..t3 attend to themselves (scores 1 each); t4 attends to 0 (score 2)
        //   step at length 5: candidates 0..2 = 2, 1, 1 -> evict 1 (older tie)
        //   t5 attends to itself; step at length 6: candidates 0, 2, 3 = 2, 1, 1 -> evict 2
        //   endPrefill: live 0, 3, 4, 5 is already the budget; it must not evict 3 for the evicted 1
        KvPolicy p = Policies.create("h2o");
        p.start(PolicyContext.bounded(1, 6, 4));
        Transitions out = new Transitions();
        int[] hot = {0, 1, 2, 3, 0, 5};
        for (int q = 0; q < 6; q++) {
            p.append(1);
            float[] row = new float[q + 1];
            row[hot[q]] = 1f;
            p.observe(0, q, row, 0, 1, q + 1, q + 1);
            p.step(out);
        }
        assertEquals("[0:1 NORMAL->EVICT, 0:2 NORMAL->EVICT]", out.toString());
        out.clear();
        p.endPrefill(out);
        assertEquals("[]", out.toString());
        assertEquals(4, p.liveTokens(0));
    }

    @Test
    void recentTokens_areAlwaysKept_evenIfNeverAttended() {
        Driver d = Driver.bounded("h2o", 1, 6, 4);
        d.prefill(6, PROMPT_ROWS);
        for (int s = 0; s < 20; s++) {
            d.decodeAttending(0);
            int n = d.policy.length();
            List<Integer> live = d.live(0);
            assertEquals(4, live.size());
            assertTrue(live.contains(n - 1) && live.contains(n - 2), live.toString());
            assertTrue(live.contains(0), live.toString());
        }
    }

    @Test
    void heavyFraction_splitsTheBudget() {
        // budget 8, heavy .25: 2 heavy + 6 recent; prompt 12, each query attends to itself and to 1 and 4
        Driver d = Driver.bounded("h2o:heavy=0.25", 1, 12, 8);
        d.prefill(12, (l, q, row) -> {
            row[q] += 0.5f;
            row[Math.min(1, q)] += 0.25f;
            row[Math.min(4, q)] += 0.25f;
        });
        assertEquals(List.of(1, 4, 6, 7, 8, 9, 10, 11), d.live(0));
    }

    @Test
    void unbounded_neverEvicts() {
        Driver d = Driver.of("h2o", 2, 6);
        assertTrue(d.prefill(6, PROMPT_ROWS).isEmpty());
        for (int s = 0; s < 10; s++) {
            assertTrue(d.decodeAttending(0).isEmpty());
        }
        assertEquals(16, d.policy.liveTokens(1));
    }

    @Test
    void budgetTooSmallForHeavyAndRecent_isRejectedNamingTheBudget() {
        KvPolicy p = Policies.create("h2o");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.start(PolicyContext.bounded(1, 10, 1)));
        assertEquals("h2o: a budget of 1 tokens cannot hold both heavy hitters and recent tokens", e.getMessage());
    }

    @Test
    void heavyOutsideTheOpenUnitInterval_isRejected() {
        for (String v : new String[] {"0", "1", "1.5", "-0.5"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Policies.create("h2o:heavy=" + v));
            assertEquals("h2o: heavy must be in (0, 1), was " + Double.parseDouble(v), e.getMessage());
        }
        assertEquals("policy 'h2o': option heavy=lots is not a number",
                assertThrows(IllegalArgumentException.class, () -> Policies.create("h2o:heavy=lots")).getMessage());
    }
}
