package io.tierkv.core.policy;

import static io.tierkv.core.Level.CACHE;
import static io.tierkv.core.Level.EVICT;
import static io.tierkv.core.Level.LOW;
import static io.tierkv.core.Level.NORMAL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.popularity.ReferencePopularityCounter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The hierarchical policy end to end: attention rows whose top-k the test controls go in, level
 * transitions come out. With {@code k=1} and a one-hot row each generated token gives exactly one count
 * to the token it attends to, so a window's counts are a schedule of 40 names.
 */
class HierarchicalPolicyTest {
    // prompt tokens: S (sink, soaks up the rest of each window), then A..F with chosen counts
    private static final int S = 0, A = 1, B = 2, C = 3, D = 4, E = 5, F = 6, PROMPT = 7;

    /** 40 targets: each token listed {@code times} in turn, S for the rest. */
    private static int[] schedule(int... tokenTimes) {
        List<Integer> s = new ArrayList<>();
        for (int i = 0; i < tokenTimes.length; i += 2) {
            s.addAll(Collections.nCopies(tokenTimes[i + 1], tokenTimes[i]));
        }
        s.addAll(Collections.nCopies(40 - s.size(), S));
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Runs one 40-step window with the schedule; returns the transitions of its last step, checking that the others had none. */
    private static Transitions window(Driver d, int[] schedule) {
        for (int i = 0; i < 39; i++) {
            assertTrue(d.decodeAttending(schedule[i]).isEmpty(), "no transition before the window closes (step " + (i + 1) + ")");
            d.policy.checkInvariants();
        }
        Transitions last = d.decodeAttending(schedule[39]);
        d.policy.checkInvariants();
        return last;
    }

    private static Driver paperK1() {
        return paperK1("");
    }

    private static Driver paperK1(String mode) {
        Driver d = Driver.of("hierarchical:k=1" + mode, 1, PROMPT);
        assertTrue(d.prefill(PROMPT).isEmpty());
        return d;
    }

    @Test
    void firstWindow_countsEarnLevels_eachTokenMovesOneStepAtStep40() {
        Driver d = paperK1();
        // counts:  S 11, A 10, B 5, C 1, D 0, E 9, F 4; token 7 (first generated, born at step 0) 0
        Transitions t = window(d, schedule(A, 10, B, 5, C, 1, E, 9, F, 4));
        // S 11 -> CACHE, A 10 -> CACHE, B 5 and E 9 stay NORMAL, C 1, F 4 and D 0 -> LOW (D not EVICT:
        // one level per window), token 7 (0 counts) -> LOW; tokens 8..46 were born during the window: too young
        assertEquals("[0:0 NORMAL->CACHE, 0:1 NORMAL->CACHE, 0:3 NORMAL->LOW, 0:4 NORMAL->LOW, 0:6 NORMAL->LOW, "
                + "0:7 NORMAL->LOW]", t.toString());
        assertEquals(47, d.policy.length());
        assertEquals(47, d.policy.liveTokens(0));
    }

    @Test
    void chunkedPrompt_tokensOfAChunkAreJudgedAsIfFedOneAtATime() {
        // A 40-token chunk appended at once, then its 40 query steps, each attending only to token 0.
        Driver d = new Driver(Policies.create("hierarchical:k=1"), PolicyContext.unbounded(1, 80));
        d.policy.append(40);
        Transitions t = new Transitions();
        for (int q = 0; q < 40; q++) {
            float[] row = new float[q + 1];
            row[0] = 1f;
            d.policy.observe(0, q, row, 0, 1, q + 1, q + 1);
            t.clear();
            d.policy.step(t);
        }
        // Token 0 (40 counts) has lived the window and rises; tokens 1..39 were each seen by fewer than 40
        // queries, so at the close they are too young to be judged on their zero counts.
        assertEquals("[0:0 NORMAL->CACHE]", t.toString());
        // The next chunk's 40 steps see them all (still attending to token 0): now 1..39 have lived a window.
        d.policy.append(40);
        for (int q = 40; q < 80; q++) {
            float[] row = new float[q + 1];
            row[0] = 1f;
            d.policy.observe(0, q, row, 0, 1, q + 1, q + 1);
            t.clear();
            d.policy.step(t);
        }
        assertEquals(LOW, Level.of(d.policy.level(0, 1)));
        assertEquals(LOW, Level.of(d.policy.level(0, 39)));
        assertEquals(LOW, Level.of(d.policy.level(0, 40)), "the second chunk's first token was seen by all 40 of its queries");
        assertEquals(NORMAL, Level.of(d.policy.level(0, 41)), "the rest of the second chunk waits for the third window");
    }

    @Test
    void densePrefill_wholePromptIsJudgedAtTheFirstWindow() {
        Driver d = Driver.of("hierarchical:k=1", 1, PROMPT);
        d.prefill(PROMPT);
        window(d, schedule());
        for (int tok = A; tok < PROMPT; tok++) {
            assertEquals(LOW, d.level(0, tok), "prompt token " + tok + ", 0 counts, judged at step 40");
        }
    }

    @Test
    void levelSequences_overFourWindows_demoteByExactlyOneLevelPerWindow() {
        Driver d = paperK1();
        int[][] levels = new int[4][];
        int[] tokens = {S, A, B, C, D, E, F};
        int[][] schedules = {schedule(A, 10, B, 5, C, 1, E, 9, F, 4), schedule(), schedule(), schedule()};
        for (int w = 0; w < 4; w++) {
            window(d, schedules[w]);
            levels[w] = new int[tokens.length];
            for (int i = 0; i < tokens.length; i++) {
                levels[w][i] = d.policy.level(0, tokens[i]);
            }
        }
        //             window:  1       2       3       4       counts in window 1, then 0 (S takes all 40)
        assertSequence(d, S, CACHE, CACHE, CACHE, CACHE, levels, 0);
        assertSequence(d, A, CACHE, NORMAL, LOW, EVICT, levels, 1); // 10
        assertSequence(d, B, NORMAL, LOW, EVICT, EVICT, levels, 2); // 5
        assertSequence(d, C, LOW, EVICT, EVICT, EVICT, levels, 3); // 1
        assertSequence(d, D, LOW, EVICT, EVICT, EVICT, levels, 4); // 0
        assertSequence(d, E, NORMAL, LOW, EVICT, EVICT, levels, 5); // 9
        assertSequence(d, F, LOW, EVICT, EVICT, EVICT, levels, 6); // 4
    }

    private static void assertSequence(Driver d, int token, Level w1, Level w2, Level w3, Level w4, int[][] levels, int i) {
        List<Level> actual = new ArrayList<>();
        for (int[] w : levels) {
            actual.add(Level.of(w[i]));
        }
        assertEquals(List.of(w1, w2, w3, w4), actual, "token " + token);
    }

    @Test
    void secondWindow_generatedTokensJudgedOnceOldEnough_youngOnesWait() {
        Driver d = paperK1();
        window(d, schedule(A, 10, B, 5, C, 1, E, 9, F, 4));
        Transitions t = window(d, schedule());
        // at step 80 the tokens born at steps 1..40 (positions 8..47) are judged for the first time on 0
        // counts: NORMAL -> LOW; those born at 41..79 (48..86) are still young
        for (int p = 8; p <= 47; p++) {
            assertEquals(LOW, d.level(0, p), "position " + p);
        }
        for (int p = 48; p <= 86; p++) {
            assertEquals(NORMAL, d.level(0, p), "position " + p);
        }
        // A C->N, B N->L, C L->E, D L->E, E N->L, F L->E, 7 L->E, and the 40 newly judged N->L
        assertEquals(47, t.size());
        assertEquals(4, t.countTo(EVICT));
        assertEquals(87 - 4, d.policy.liveTokens(0));
    }

    @Test
    void window_nothingMovesAtStep39_movesAtStep40_thenAgainAt80NotBefore() {
        Driver d = paperK1();
        for (int s = 1; s <= 39; s++) {
            assertTrue(d.decodeAttending(S).isEmpty(), "step " + s);
        }
        assertEquals(39, ((HierarchicalPolicy) d.policy).steps());
        assertEquals(NORMAL, d.level(0, A));
        assertEquals("[0:0 NORMAL->CACHE, 0:1 NORMAL->LOW, 0:2 NORMAL->LOW, 0:3 NORMAL->LOW, 0:4 NORMAL->LOW, "
                + "0:5 NORMAL->LOW, 0:6 NORMAL->LOW, 0:7 NORMAL->LOW]", d.decodeAttending(S).toString());
        for (int s = 41; s <= 79; s++) {
            assertTrue(d.decodeAttending(S).isEmpty(), "step " + s);
        }
        assertEquals(LOW, d.level(0, A));
        assertEquals(EVICT.code(), d.decodeAttending(S).to(1)); // step 80: A (index 1 of the list) LOW -> EVICT
        assertEquals(EVICT, d.level(0, A));
    }

    @Test
    void evict_inTierMode_comesBackToLow_whenTheTokenIsCountedAgain() {
        Driver d = paperK1();
        window(d, schedule()); // NORMAL -> LOW
        window(d, schedule()); // LOW -> EVICT: cold, but its KV waits on the host and is still attended
        assertEquals(EVICT, d.level(0, A));
        Transitions t = window(d, schedule(A, 40));
        boolean revived = false;
        for (int i = 0; i < t.size(); i++) {
            revived |= t.index(i) == A && t.from(i) == EVICT.code() && t.to(i) == LOW.code();
        }
        assertTrue(revived, t.toString());
        assertEquals(LOW, d.level(0, A));
    }

    @Test
    void youngToken_bornMidWindow_notJudgedAtNextClose_judgedAtTheOneAfterOnThatWindowsCounts() {
        Driver d = paperK1();
        // generated token Y is appended while 20 steps are done: position 7 + 20 = 27, born at step 20
        int y = PROMPT + 20;
        for (int s = 1; s <= 20; s++) {
            d.decodeAttending(S);
        }
        // steps 21..40 all attend to Y: 20 counts, which would earn CACHE
        Transitions close = null;
        for (int s = 21; s <= 40; s++) {
            close = d.decodeAttending(y);
        }
        HierarchicalPolicy h = (HierarchicalPolicy) d.policy;
        for (int i = 0; i < close.size(); i++) {
            assertTrue(close.index(i) != y, "Y was judged at step 40: " + close);
        }
        assertEquals(NORMAL, d.level(0, y));
        assertEquals(0, h.count(0, y)); // its young counts were dropped with the window
        assertEquals(20, h.heat(0, y)); // ... though heat still remembers the last window
        // window 2 (steps 41..80): Y gets nothing; judged at 80 on these 0 counts -> LOW (not CACHE)
        window(d, schedule());
        assertEquals(LOW, d.level(0, y));
    }

    @Test
    void youngToken_judgedAtTheSecondClose_promotedByThatWindowsCounts() {
        Driver d = paperK1();
        int y = PROMPT + 39; // born at step 39, one step before the first close
        for (int s = 1; s <= 40; s++) {
            d.decodeAttending(S);
        }
        assertEquals(NORMAL, d.level(0, y));
        window(d, schedule(y, 10));
        assertEquals(CACHE, d.level(0, y));
    }

    @Test
    void countsResetEachWindow_heatKeepsTheLastOne() {
        Driver d = paperK1();
        HierarchicalPolicy h = (HierarchicalPolicy) d.policy;
        for (int s = 1; s <= 39; s++) {
            d.decodeAttending(s <= 12 ? A : S);
        }
        assertEquals(12, h.count(0, A));
        assertEquals(27, h.count(0, S));
        d.decodeAttending(S); // step 40 closes the window
        assertEquals(0, h.count(0, A));
        assertEquals(0, h.count(0, S));
        assertEquals(12, h.heat(0, A));
        d.decodeAttending(A);
        assertEquals(1, h.count(0, A));
        assertEquals(13, h.heat(0, A));
    }

    @Test
    void evict_inDropMode_isFinal_evenIfTheEvictedTokenIsCountedAgain() {
        Driver d = paperK1(",mode=drop");
        window(d, schedule()); // A 0 counts: NORMAL -> LOW
        window(d, schedule()); // LOW -> EVICT
        assertEquals(EVICT, d.level(0, A));
        // the protocol gives evicted keys probability 0; even a row that insists changes nothing
        Transitions t = window(d, schedule(A, 40));
        for (int i = 0; i < t.size(); i++) {
            assertTrue(t.index(i) != A, t.toString());
        }
        assertEquals(EVICT, d.level(0, A));
    }

    @Test
    void layers_areJudgedSeparately() {
        Driver d = Driver.of("hierarchical:k=1", 2, PROMPT);
        d.prefill(PROMPT);
        // layer 0 always attends to A, layer 1 always to S
        for (int s = 1; s <= 40; s++) {
            d.decode((l, q, row) -> row[l == 0 ? A : S] = 1f);
        }
        assertEquals(CACHE, d.level(0, A));
        assertEquals(LOW, d.level(0, S));
        assertEquals(LOW, d.level(1, A));
        assertEquals(CACHE, d.level(1, S));
    }

    @Test
    void configuredWindowKAndThresholds_areHonoured() {
        // window 4, k 2, CACHE >= 3, NORMAL >= 2, LOW >= 1
        Driver d = Driver.of("hierarchical:window=4,k=2,cache=3,normal=2,low=1", 1, 4);
        assertEquals("hierarchical:window=4,k=2,cache=3,normal=2,low=1", d.policy.name());
        d.prefill(4);
        // each row weighs exactly two keys, so with k=2 both are counted: over steps 1..4 token 0 gets
        // 3 counts, 1 gets 3, 2 gets 1, 3 gets 0, and 4 (the first generated token, born at step 0) 1
        int[][] pairs = {{0, 1}, {0, 1}, {0, 2}, {1, 4}};
        for (int s = 0; s < 3; s++) {
            int[] p = pairs[s];
            assertTrue(d.decode((l, q, row) -> Driver.spread(row, p)).isEmpty(), "step " + (s + 1));
        }
        // step 4 closes: token 0 (3) -> CACHE, 1 (3) -> CACHE, 2 (1) -> LOW, 3 (0) -> LOW, 4 (1) -> LOW;
        // tokens 5, 6, 7 (born at steps 1, 2, 3) are younger than the 4-step window
        Transitions t = d.decode((l, q, row) -> Driver.spread(row, pairs[3]));
        assertEquals("[0:0 NORMAL->CACHE, 0:1 NORMAL->CACHE, 0:2 NORMAL->LOW, 0:3 NORMAL->LOW, 0:4 NORMAL->LOW]", t.toString());
        // next window: nobody is attended except 5 (young: born at step 1, judged at step 8)
        for (int s = 5; s <= 7; s++) {
            assertTrue(d.decode((l, q, row) -> Driver.spread(row, 5, 6)).isEmpty());
        }
        t = d.decode((l, q, row) -> Driver.spread(row, 5, 6));
        assertEquals(NORMAL, d.level(0, 0)); // CACHE -> NORMAL, one level
        assertEquals(EVICT, d.level(0, 3)); // LOW -> EVICT
        assertEquals(CACHE, d.level(0, 5)); // 4 counts over steps 5..8 (born at 1: 8 - 1 >= 4)
        assertEquals(LOW, d.level(0, 7)); // born at 3, judged at 8 (8 - 3 >= 4) on 0 counts
        assertEquals(NORMAL, d.level(0, 9)); // born at 5: too young at 8
    }

    @Test
    void topK_countsExactlyKKeysPerQuery() {
        for (int k : new int[] {1, 2, 3}) {
            Driver d = Driver.of("hierarchical:k=" + k, 1, 6);
            d.prefill(6);
            d.decode((l, q, row) -> Driver.spread(row, 4, 2, 0));
            HierarchicalPolicy h = (HierarchicalPolicy) d.policy;
            assertEquals(1, h.count(0, 4), "k=" + k);
            assertEquals(k >= 2 ? 1 : 0, h.count(0, 2), "k=" + k);
            assertEquals(k >= 3 ? 1 : 0, h.count(0, 0), "k=" + k);
        }
    }

    @Test
    void defaultK_isEight_andTheCounterIsTheContexts() {
        HierarchicalPolicy h = (HierarchicalPolicy) Policies.create("hierarchical");
        assertEquals("hierarchical", h.name());
        assertEquals(HierarchicalConfig.paper(), h.config());
        assertEquals(8, h.config().topK());
        assertEquals(40, h.config().window());
        // a context with the reference counter gives the same run as the default (fast) one
        assertEquals(transcript(PolicyContext.unbounded(2, 30)),
                transcript(new PolicyContext(2, 30, PolicyContext.UNBOUNDED, new ReferencePopularityCounter())));
    }

    private static String transcript(PolicyContext context) {
        Driver d = new Driver(Policies.create("hierarchical:window=8,k=3"), context);
        Random r = new Random(11);
        StringBuilder sb = new StringBuilder(d.prefill(30).toString());
        for (int s = 0; s < 50; s++) {
            sb.append(d.decode((l, q, row) -> {
                for (int t = 0; t < row.length; t++) {
                    row[t] = r.nextInt(4) / 4f; // ties everywhere
                }
            }));
        }
        return sb.toString();
    }

    @Test
    void observe_moreKeysThanTokens_isRejected() {
        // A row over keys that do not exist yet would leave counts on positions that later tokens inherit.
        Driver d = Driver.of("hierarchical:k=1", 1, 4);
        d.prefill(4);
        float[] row = new float[6];
        row[5] = 1f;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.policy.observe(0, 3, row, 0, 1, 6, 6));
        assertEquals("hierarchical:k=1: observe() got 6 keys but only 4 tokens exist", e.getMessage());
    }

    @Test
    void protocolMisuse_isAnException() {
        KvPolicy p = Policies.create("hierarchical");
        assertEquals("hierarchical: start() was not called",
                assertThrows(IllegalStateException.class, () -> p.append(1)).getMessage());
        p.start(PolicyContext.unbounded(1, 0));
        assertEquals("hierarchical: start() called twice",
                assertThrows(IllegalStateException.class, () -> p.start(PolicyContext.unbounded(1, 0))).getMessage());
        assertEquals("append count must be > 0, was 0", assertThrows(IllegalArgumentException.class, () -> p.append(0)).getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> p.level(0, 0));
    }

    @Test
    void manyTokens_growCapacity_keepingLevelsAndCounts() {
        Driver d = Driver.of("hierarchical:k=1", 1, 0);
        // no prompt, 200 generated tokens: capacity starts at 64 and doubles twice
        for (int s = 1; s <= 200; s++) {
            d.decodeAttending(0);
            d.policy.checkInvariants();
        }
        assertEquals(200, d.policy.length());
        assertEquals(CACHE, d.level(0, 0));
        assertEquals(0, ((HierarchicalPolicy) d.policy).count(0, 0)); // step 200 closed a window
    }

    @Test
    void tokensAppendedBeforeTheirPredecessorsSteps_areNeverBornBeforeThem() {
        // chunks appended back to back, no steps between: births stay in token order (the window close searches them)
        HierarchicalPolicy p = new HierarchicalPolicy(new HierarchicalConfig(3, 2, 1, 4, 1));
        p.start(PolicyContext.unbounded(1, 9));
        p.append(5);
        p.append(4);
        p.checkInvariants();
        Transitions out = new Transitions();
        for (int s = 0; s < 4; s++) {
            p.step(out);
        }
        // at the first close (step 4) only the tokens born by step 0 are old enough: token 0, not the second chunk
        assertEquals("[0:0 NORMAL->LOW]", out.toString());
        p.checkInvariants();
    }
}
