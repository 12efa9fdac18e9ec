package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** StreamingLLM's kept set: the first {@code sinks} tokens and the last {@code window}, whatever attention says. */
class StreamingPolicyTest {

    private static List<Integer> range(int from, int to) {
        return IntStream.range(from, to).boxed().collect(Collectors.toList());
    }

    private static List<Integer> concat(List<Integer> a, List<Integer> b) {
        List<Integer> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    @Test
    void prefill_keepsSinksAndRecentWindow_evictsTheMiddleInEveryLayer() {
        Driver d = Driver.of("streaming:sinks=2,window=3", 2, 8);
        // tokens  0 1 | 2 3 4 | 5 6 7
        //         sink| evict | window
        assertEquals("[0:2 NORMAL->EVICT, 1:2 NORMAL->EVICT, 0:3 NORMAL->EVICT, 1:3 NORMAL->EVICT, "
                + "0:4 NORMAL->EVICT, 1:4 NORMAL->EVICT]", d.prefill(8).toString());
        assertEquals(List.of(0, 1, 5, 6, 7), d.live(0));
        assertEquals(List.of(0, 1, 5, 6, 7), d.live(1));
        assertEquals(5, d.policy.liveTokens(1));
    }

    @Test
    void decode_slidesTheWindowOneTokenPerStep() {
        Driver d = Driver.of("streaming:sinks=2,window=3", 1, 8);
        d.prefill(8);
        assertEquals("[0:5 NORMAL->EVICT]", d.decodeAttending(5).toString()); // token 8 arrives, 5 leaves
        assertEquals(List.of(0, 1, 6, 7, 8), d.live(0));
        assertEquals("[0:6 NORMAL->EVICT]", d.decodeAttending(6).toString());
        assertEquals(List.of(0, 1, 7, 8, 9), d.live(0));
    }

    @Test
    void shortPrompt_keepsEverything_untilItOutgrowsSinksPlusWindow() {
        Driver d = Driver.of("streaming:sinks=2,window=3", 1, 4);
        assertTrue(d.prefill(4).isEmpty());
        assertTrue(d.decodeAttending(0).isEmpty()); // 5 tokens = 2 + 3
        assertEquals("[0:2 NORMAL->EVICT]", d.decodeAttending(0).toString());
    }

    @Test
    void middleTokens_areEvictedHoweverMuchTheyAreAttended() {
        // the hierarchical paper's complaint: a popular middle token is dropped all the same
        Driver d = Driver.of("streaming:sinks=1,window=2", 1, 3);
        d.prefill(3, (l, q, row) -> row[q] = 1f);
        d.decodeAttending(1);
        d.decodeAttending(1);
        assertEquals(List.of(0, 3, 4), d.live(0));
    }

    @Test
    void paperPreset_keeps32SinksAnd256Recent() {
        Driver d = Driver.of("streaming-paper", 1, 400);
        StreamingPolicy p = (StreamingPolicy) d.policy;
        assertEquals(32, p.sinks());
        assertEquals(256, p.window());
        assertEquals(400 - 288, d.prefill(400).size());
        assertEquals(concat(range(0, 32), range(144, 400)), d.live(0));
        assertEquals("streaming-paper", p.name());
    }

    @Test
    void originalPreset_keeps4SinksAnd512Recent() {
        Driver d = Driver.of("streaming-original", 1, 600);
        StreamingPolicy p = (StreamingPolicy) d.policy;
        assertEquals(4, p.sinks());
        assertEquals(512, p.window());
        d.prefill(600);
        assertEquals(concat(range(0, 4), range(88, 600)), d.live(0));
    }

    @Test
    void presets_keepTheirFixedWindow_whateverTheBudget() {
        // A preset is a fixed configuration: the budget is not consulted (only plain "streaming" sizes to it).
        Driver d = Driver.bounded("streaming-paper", 1, 400, 100);
        d.prefill(400);
        assertEquals(288, d.policy.liveTokens(0));
    }

    @Test
    void presetOptions_overrideThePresetNumbers() {
        Driver d = Driver.of("streaming-paper:window=100", 1, 0);
        assertEquals(32, ((StreamingPolicy) d.policy).sinks());
        assertEquals(100, ((StreamingPolicy) d.policy).window());
        assertEquals("streaming-paper:window=100", d.policy.name());
    }

    @Test
    void plainStreaming_sizesTheWindowToTheBudget() {
        Driver d = Driver.bounded("streaming", 1, 20, 10);
        assertEquals(4, ((StreamingPolicy) d.policy).sinks());
        assertEquals(6, ((StreamingPolicy) d.policy).window()); // 10 - 4 sinks
        d.prefill(20);
        assertEquals(concat(range(0, 4), range(14, 20)), d.live(0));
        d.decodeAttending(0);
        assertEquals(10, d.policy.liveTokens(0));
    }

    @Test
    void plainStreaming_withoutBudget_uses512() {
        Driver d = Driver.of("streaming", 1, 10);
        assertEquals(512, ((StreamingPolicy) d.policy).window());
    }

    @Test
    void budgetNoBiggerThanTheSinks_isRejectedNamingTheBudget() {
        KvPolicy p = Policies.create("streaming");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.start(PolicyContext.bounded(1, 10, 4)));
        assertEquals("streaming: a budget of 4 tokens leaves no room for a window after 4 sinks", e.getMessage());
    }

    @Test
    void badNumbers_areRejectedNamingTheOption() {
        assertEquals("streaming: window must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> Policies.create("streaming:window=0")).getMessage());
        assertEquals("streaming: sinks must be >= 0, was -1",
                assertThrows(IllegalArgumentException.class, () -> Policies.create("streaming-paper:sinks=-1")).getMessage());
    }

    @Test
    void noSinks_isAPlainSlidingWindow() {
        Driver d = Driver.of("streaming:sinks=0,window=2", 1, 5);
        d.prefill(5);
        assertEquals(List.of(3, 4), d.live(0));
    }
}
