package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import org.junit.jupiter.api.Test;

/** Pre-selected top-k positions (from a trace) drive the policies like observed probabilities do. */
class ObserveSelectedTest {

    @Test
    void hierarchical_selectedPositions_countLikeObservedProbabilities() {
        HierarchicalConfig config = new HierarchicalConfig(3, 2, 1, 4, 2);
        HierarchicalPolicy byProbs = new HierarchicalPolicy(config);
        HierarchicalPolicy bySelection = new HierarchicalPolicy(config);
        byProbs.start(PolicyContext.unbounded(1, 6));
        bySelection.start(PolicyContext.unbounded(1, 6));
        byProbs.append(6);
        bySelection.append(6);
        Transitions a = new Transitions();
        Transitions b = new Transitions();
        for (int step = 0; step < 8; step++) {
            byProbs.append(1);
            bySelection.append(1);
            int keys = byProbs.length();
            float[] probs = new float[keys];
            probs[0] = 0.5f;
            probs[step % 2 == 0 ? 3 : 4] = 0.3f;
            byProbs.observe(0, keys - 1, probs, 0, 1, keys, keys);
            bySelection.observeSelected(0, new int[] {0, step % 2 == 0 ? 3 : 4}, 2);
            byProbs.step(a);
            bySelection.step(b);
        }
        assertEquals(a.toString(), b.toString());
        for (int t = 0; t < byProbs.length(); t++) {
            assertEquals(byProbs.level(0, t), bySelection.level(0, t), "token " + t);
            assertEquals(byProbs.heat(0, t), bySelection.heat(0, t), "token " + t);
        }
        // Token 0 won every step: 4 per window -> CACHE after two windows (NORMAL -> CACHE in one step).
        assertEquals(Level.CACHE_CODE, bySelection.level(0, 0));
        bySelection.checkInvariants();
    }

    @Test
    void observedTopK_isHierarchicalsK_andZeroForPoliciesThatReadTheWholeRow() {
        // A caller may hand only hierarchical its own top-k selection: H2O sums probabilities, the rest ignore them.
        assertEquals(2, new HierarchicalPolicy(new HierarchicalConfig(3, 2, 1, 4, 2)).observedTopK());
        assertEquals(HierarchicalConfig.DEFAULT_TOP_K, Policies.create("hierarchical").observedTopK());
        for (String spec : new String[] {"h2o", "full", "streaming", "snapkv"}) {
            assertEquals(0, Policies.create(spec).observedTopK(), spec);
        }
    }

    @Test
    void h2o_selectedPositions_gainOneUnitEach() {
        H2oPolicy p = new H2oPolicy(0.5);
        p.start(PolicyContext.unbounded(2, 4));
        p.append(4);
        p.observeSelected(1, new int[] {0, 2}, 2);
        p.observeSelected(1, new int[] {2}, 1);
        assertEquals(1f, p.score(1, 0));
        assertEquals(2f, p.score(1, 2));
        assertEquals(0f, p.score(0, 2));
    }

    @Test
    void selectedPositions_mustBeAscendingAndExist() {
        HierarchicalPolicy p = new HierarchicalPolicy(HierarchicalConfig.paper());
        p.start(PolicyContext.unbounded(1, 4));
        p.append(4);
        assertThrows(IllegalArgumentException.class, () -> p.observeSelected(0, new int[] {2, 1}, 2));
        assertThrows(IllegalArgumentException.class, () -> p.observeSelected(0, new int[] {4}, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> p.observeSelected(1, new int[] {0}, 1));
    }

    @Test
    void streaming_ignoresSelectedPositions() {
        StreamingPolicy p = new StreamingPolicy(1, 2);
        p.start(PolicyContext.unbounded(1, 4));
        p.append(4);
        p.observeSelected(0, new int[] {1}, 1);
        p.endPrefill(new Transitions());
        assertEquals(Level.EVICT_CODE, p.level(0, 1));
    }
}
