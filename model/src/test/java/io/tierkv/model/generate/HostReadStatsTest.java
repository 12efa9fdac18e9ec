package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** A round's host reads are the session's counts since the round began: they add up to the session's. */
class HostReadStatsTest {

    @Test
    void since_isWhatWasAddedAfterTheCopy_andTheRoundsAddUpToTheSession() {
        HostReadStats session = new HostReadStats(2);
        session.add(0, 2, 10);
        session.add(1, 1.5, 10);
        session.addRecall(0, 3, 4);
        HostReadStats roundStart = session.copy();
        session.add(0, 1, 20);
        session.add(1, 0.25, 20);
        session.addRecall(0, 1, 4);
        HostReadStats round = session.since(roundStart);
        assertEquals(1, round.steps());
        assertEquals(1.25 / 40, round.fraction(), 1e-12);
        assertEquals(0.25, round.recall(), 1e-12);
        assertEquals(3.5 / 20, roundStart.fraction(), 1e-12, "the copy did not move with the session");
        HostReadStats sum = roundStart.copy();
        sum.addAll(round);
        assertEquals(session.fraction(), sum.fraction(), 1e-12);
        assertArrayEquals(session.recallByLayer(), sum.recallByLayer(), 1e-12);
        assertEquals(session.steps(), sum.steps());
    }
}
