package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The registry and the option parser: names, specs, and every kind of bad input with its message. */
class PoliciesTest {
    private static final String KNOWN = "[full, hierarchical, streaming, streaming-paper, streaming-original, snapkv, h2o]";

    private static String message(String spec) {
        return assertThrows(IllegalArgumentException.class, () -> Policies.create(spec)).getMessage();
    }

    @Test
    void names_listEveryPolicyInRegistryOrder() {
        assertEquals(KNOWN, Policies.names().toString());
        assertTrue(Policies.names().containsAll(Policies.DEFAULT_EVAL));
    }

    @Test
    void create_everyName_givesAFreshPolicyOfThatName() {
        for (String name : Policies.names()) {
            KvPolicy a = Policies.create(name);
            assertEquals(name, a.name());
            assertNotSame(a, Policies.create(name));
            assertTrue(Policies.isKnown(name));
            assertTrue(Policies.isKnown(name + ":x=1"));
        }
    }

    @Test
    void create_trimsTheSpec_andNamesThePolicyWithItsOptions() {
        assertEquals("hierarchical:k=16,window=20", Policies.create("  hierarchical:k=16, window = 20 ").name());
        assertEquals("hierarchical", Policies.create("hierarchical:").name());
        assertEquals(16, ((HierarchicalPolicy) Policies.create("hierarchical:k=16")).config().topK());
    }

    @Test
    void unknownName_listsTheKnownOnes() {
        assertEquals("unknown policy 'lru'; known: " + KNOWN, message("lru"));
        assertEquals("unknown policy 'Full'; known: " + KNOWN, message("Full:k=1"));
        assertFalse(Policies.isKnown("lru"));
    }

    @Test
    void emptyName_isRejected() {
        assertEquals("policy name must not be empty; known: " + KNOWN, message(" "));
        assertEquals("policy name must not be empty; known: " + KNOWN, message(null));
    }

    @Test
    void unknownOption_namesItAndTheKnownOnes() {
        assertEquals("policy 'hierarchical' has no option 'kk'; it knows [cache, k, low, mode, normal, window]", message("hierarchical:kk=3"));
        assertEquals("policy 'full' has no option 'window'; it knows [mode]", message("full:window=3"));
        assertEquals("policy 'streaming-paper' has no option 'budget'; it knows [mode, sinks, window]", message("streaming-paper:budget=3"));
        assertEquals("policy 'snapkv' has no option 'k'; it knows [kernel, mode, pool, window]", message("snapkv:k=3"));
        assertEquals("policy 'h2o' has no option 'recent'; it knows [heavy, mode]", message("h2o:recent=3"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "hierarchical:k        | option 'k' is not of the form key=value",
            "hierarchical:k=       | option 'k=' is not of the form key=value",
            "hierarchical:=4       | option '=4' is not of the form key=value",
            "hierarchical:k=1,,window=4 | option '' is not of the form key=value"})
    void malformedOption_isRejectedQuotingIt(String spec, String expected) {
        assertEquals("policy 'hierarchical': " + expected, message(spec));
    }

    @Test
    void repeatedOption_isRejected() {
        assertEquals("policy 'hierarchical': option 'k' given twice", message("hierarchical:k=1,k=2"));
    }

    @Test
    void nonNumericOption_namesKeyAndValue() {
        assertEquals("policy 'hierarchical': option k=eight is not an integer", message("hierarchical:k=eight"));
        assertEquals("policy 'hierarchical': option window=4.5 is not an integer", message("hierarchical:window=4.5"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "hierarchical:window=0   | window must be > 0, was 0",
            "hierarchical:window=-40 | window must be > 0, was -40",
            "hierarchical:k=0        | topK (k) must be > 0, was 0",
            "hierarchical:k=-1       | topK (k) must be > 0, was -1",
            "hierarchical:low=0      | lowMin must be >= 1 (0 counts is EVICT), was 0",
            "hierarchical:cache=5    | thresholds must decrease: cacheMin > normalMin > lowMin, were 5, 5, 1",
            "hierarchical:normal=12  | thresholds must decrease: cacheMin > normalMin > lowMin, were 10, 12, 1",
            "hierarchical:low=5      | thresholds must decrease: cacheMin > normalMin > lowMin, were 10, 5, 5",
            "hierarchical:cache=1,normal=5,low=10 | thresholds must decrease: cacheMin > normalMin > lowMin, were 1, 5, 10"})
    void hierarchical_badNumbers_nameTheParameterAndValue(String spec, String expected) {
        assertEquals(expected, message(spec));
    }

    @Test
    void hierarchicalConfig_checksItsOwnInput() {
        assertEquals("window must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> HierarchicalConfig.paper().withWindow(0)).getMessage());
        assertEquals("topK (k) must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> HierarchicalConfig.paper().withTopK(0)).getMessage());
        assertEquals(new HierarchicalConfig(10, 5, 1, 40, 8), HierarchicalConfig.paper());
        assertEquals(new HierarchicalConfig(10, 5, 1, 7, 3), HierarchicalConfig.paper().withWindow(7).withTopK(3));
        // the smallest legal ladder
        new HierarchicalConfig(3, 2, 1, 1, 1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"full", "hierarchical", "streaming", "streaming-paper", "streaming-original", "snapkv", "h2o"})
    void useBeforeStart_isAnException(String name) {
        KvPolicy p = Policies.create(name);
        assertEquals(name + ": start() was not called", assertThrows(IllegalStateException.class, () -> p.append(1)).getMessage());
        assertThrows(IllegalStateException.class, p::checkInvariants);
    }

    @Test
    void policyContext_badInput_namesTheParameter() {
        assertEquals("layers must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> PolicyContext.unbounded(0, 10)).getMessage());
        assertEquals("promptLength must be >= 0, was -1",
                assertThrows(IllegalArgumentException.class, () -> PolicyContext.unbounded(1, -1)).getMessage());
        assertEquals("budgetTokens must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> PolicyContext.bounded(1, 10, 0)).getMessage());
        assertEquals("counter must not be null",
                assertThrows(IllegalArgumentException.class, () -> new PolicyContext(1, 1, 1, null)).getMessage());
        assertFalse(PolicyContext.unbounded(1, 1).bounded());
        assertTrue(PolicyContext.bounded(1, 1, 5).bounded());
    }

    @Test
    void policyOptions_defaultsAndTypedReads() {
        PolicyOptions o = PolicyOptions.parse("x", "a=1, b = 2.5 ,c=max");
        assertEquals(1, o.getInt("a", 9));
        assertEquals(2.5, o.getDouble("b", 9));
        assertEquals("max", o.getString("c", "avg"));
        assertEquals(7, o.getInt("missing", 7));
        assertTrue(o.has("a"));
        assertFalse(o.has("missing"));
        o.finish();
        assertEquals("a=1,b=2.5,c=max", o.toString());
        assertEquals("", PolicyOptions.none("x").toString());
        assertEquals("", PolicyOptions.parse("x", null).toString());
        assertEquals("", PolicyOptions.parse("x", "  ").toString());
    }
}
