package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tierkv.core.Level;
import io.tierkv.core.placement.TierMode;
import io.tierkv.core.Transitions;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.popularity.PopularityCounter;
import io.tierkv.core.popularity.PopularityCounters;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Property tests over seeded random runs of every registered policy (and variants with small numbers,
 * so that windows close and evictions happen often): random prompt length, layers, budget, full or
 * chunked prefill, and attention rows with many ties over heads at a stride and offset; evicted keys
 * get probability 0 as the protocol says. After every call the policy is checked against a shadow
 * model built only from the transitions it emitted, and a {@link BlockTable} is fed alongside.
 */
class PolicyInvariantsTest {
    private static final List<String> VARIANTS = List.of(
            "hierarchical:window=5,k=3,cache=4,normal=2,low=1",
            "hierarchical:window=3,k=1,cache=3,normal=2,low=1",
            "hierarchical:window=3,k=1,cache=3,normal=2,low=1,mode=drop",
            "streaming:sinks=2,window=8",
            "snapkv:window=4,kernel=3,pool=avg",
            "h2o:heavy=0.25");
    private static final int SEEDS = 6;

    static Stream<Arguments> runs() {
        List<String> specs = new ArrayList<>(Policies.names());
        specs.addAll(VARIANTS);
        List<Arguments> all = new ArrayList<>();
        for (String spec : specs) {
            for (int seed = 0; seed < SEEDS; seed++) {
                all.add(Arguments.of(spec, seed, seed % 2 == 1, seed % 3 != 0));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} seed={1} chunked={2} bounded={3}")
    @MethodSource("runs")
    void randomRun_keepsEveryInvariant_andIsDeterministic(String spec, int seed, boolean chunked, boolean bounded) {
        String first = new Run(spec, seed, chunked, bounded, PopularityCounters.java()).go();
        String second = new Run(spec, seed, chunked, bounded, PopularityCounters.java()).go();
        assertEquals(first, second, "same inputs, same transitions");
        if (spec.startsWith("hierarchical")) {
            // the counter is an implementation detail: the oracle gives the same run
            assertEquals(first, new Run(spec, seed, chunked, bounded, PopularityCounters.reference()).go());
        }
        if (spec.equals("full")) {
            assertEquals("", first.replace("[]|", ""), "full never evicts");
        }
        if (VARIANTS.contains(spec) && spec.startsWith("hierarchical")) {
            assertTrue(first.contains("->"), "small windows must make tokens move: " + first);
        }
    }

    /** One random run; {@link #go()} returns the transcript of every transition. */
    private static final class Run {
        final String spec;
        final Random r;
        final boolean chunked;
        final KvPolicy policy;
        final PolicyContext context;
        final int layers;
        final int prompt;
        final int decodeSteps;
        final BlockTable blocks;
        final Transitions out = new Transitions();
        final Transitions blockOut = new Transitions();
        final StringBuilder transcript = new StringBuilder();
        final boolean hierarchical;
        final int window;
        /** Sparse rows: a few keys per head get coarse weights, the rest 0, so that scores tie often. */
        final boolean sparse;
        /** (layer, token) levels as the emitted transitions say. */
        byte[][] shadow;
        /** (token) steps taken when the token arrived. */
        int[] birth;
        int length;
        int steps;
        /** Oracle state: (layer, token) attention accumulated as H2O must, and window counts as the paper says. */
        final float[][] accumulated;
        final int[][] counts;
        final PopularityCounter oracle = PopularityCounters.reference();

        Run(String spec, int seed, boolean chunked, boolean bounded, PopularityCounter counter) {
            this.spec = spec;
            this.r = new Random(seed * 1_000_003L + spec.hashCode());
            this.chunked = chunked;
            this.layers = 1 + r.nextInt(3);
            this.prompt = r.nextInt(120);
            this.decodeSteps = 30 + r.nextInt(100);
            int budget = bounded ? 40 + r.nextInt(60) : PolicyContext.UNBOUNDED;
            this.context = new PolicyContext(layers, prompt, budget, counter);
            this.policy = Policies.create(spec);
            this.blocks = new BlockTable(layers, 1 + r.nextInt(16));
            this.sparse = r.nextBoolean();
            this.hierarchical = policy instanceof HierarchicalPolicy;
            this.window = hierarchical ? ((HierarchicalPolicy) policy).config().window() : 0;
            int capacity = prompt + decodeSteps;
            this.shadow = new byte[layers][capacity];
            this.birth = new int[capacity];
            this.accumulated = new float[layers][capacity];
            this.counts = new int[layers][capacity];
        }

        String go() {
            policy.start(context);
            if (chunked) {
                int q = 0;
                while (q < prompt) {
                    int chunk = Math.min(prompt - q, 1 + r.nextInt(17));
                    append(chunk);
                    for (int end = q + chunk; q < end; q++) {
                        observeAll(q);
                        step();
                    }
                }
            } else if (prompt > 0) {
                append(prompt);
                for (int q = prompt - Math.min(prompt, policy.prefillRows(prompt)); q < prompt; q++) {
                    observeAll(q);
                }
            }
            out.clear();
            policy.endPrefill(out);
            for (int t = 0; t < length; t++) {
                birth[t] = Math.min(birth[t], steps); // a prefill without steps: the prompt is born now
            }
            check(out, false);
            for (int s = 0; s < decodeSteps; s++) {
                append(1);
                observeAll(length - 1);
                step();
            }
            return transcript.toString();
        }

        void append(int n) {
            policy.append(n);
            // The i-th token of a batch is born at the step of its own query, steps + i.
            for (int i = 0; i < n; i++) {
                birth[length + i] = steps + i;
            }
            for (int l = 0; l < layers; l++) {
                Arrays.fill(shadow[l], length, length + n, Level.NORMAL_CODE);
            }
            blockOut.clear();
            blocks.append(n, Level.NORMAL_CODE, blockOut);
            length += n;
        }

        void step() {
            out.clear();
            policy.step(out);
            steps++;
            check(out, true);
        }

        /** Two heads, stride keys + 3, offset 1; weights in sixteenths (ties), dense with a few hot tokens per layer, or sparse. */
        void observeAll(int query) {
            int keys = query + 1;
            int heads = 2;
            int stride = keys + 3;
            float[] probs = new float[1 + heads * stride];
            for (int l = 0; l < layers; l++) {
                Arrays.fill(probs, 0f);
                for (int h = 0; h < heads; h++) {
                    int row = 1 + h * stride;
                    for (int t = 0; t < keys; t++) {
                        if (shadow[l][t] != Level.EVICT_CODE && !sparse) {
                            probs[row + t] = (r.nextInt(4) + (t % 7 == l && r.nextInt(3) > 0 ? 12 : 0)) / 16f;
                        }
                    }
                    for (int i = sparse ? 1 + r.nextInt(3) : 0; i > 0; i--) {
                        int t = r.nextInt(keys);
                        if (shadow[l][t] != Level.EVICT_CODE) {
                            probs[row + t] += (4 << r.nextInt(2)) / 16f;
                        }
                    }
                    probs[row + keys] = 99f; // padding: must never be read
                }
                policy.observe(l, query, probs, 1, heads, stride, keys);
                for (int h = 0; h < heads; h++) {
                    for (int t = 0; t < keys; t++) {
                        accumulated[l][t] += probs[1 + h * stride + t];
                    }
                }
                if (hierarchical) {
                    int k = ((HierarchicalPolicy) policy).config().topK();
                    oracle.count(probs, 1, heads, stride, keys, k, new int[Math.min(k, keys)], counts[l]);
                }
            }
        }

        void check(Transitions t, boolean fromStep) {
            byte[][] expected = expectedLevels(fromStep);
            boolean[][] moved = new boolean[layers][length];
            for (int i = 0; i < t.size(); i++) {
                int l = t.layer(i);
                int tok = t.index(i);
                byte from = t.from(i);
                byte to = t.to(i);
                String what = spec + ": transition " + t.layer(i) + ":" + tok + " " + from + "->" + to + " at step " + steps;
                assertTrue(l >= 0 && l < layers && tok >= 0 && tok < length, what);
                assertEquals(shadow[l][tok], from, what + " starts where the token was");
                assertTrue(from != Level.EVICT_CODE || policy.tierMode() == TierMode.TIER, what + ": EVICT is final in drop mode");
                assertTrue(from != to, what);
                assertTrue(!moved[l][tok], what + ": one move per token per call");
                moved[l][tok] = true;
                if (hierarchical) {
                    assertEquals(1, Math.abs(to - from), what + ": one level per window");
                    assertTrue(fromStep && steps % window == 0, what + ": only when a window closes");
                    assertTrue(steps - birth[tok] >= window, what + ": token younger than a window");
                } else {
                    assertEquals(Level.NORMAL_CODE, from, what + ": baselines keep at NORMAL");
                    assertEquals(Level.EVICT_CODE, to, what + ": baselines only evict");
                }
                shadow[l][tok] = to;
            }
            transcript.append(t).append('|');
            policy.checkInvariants();
            assertEquals(length, policy.length());
            for (int l = 0; l < layers; l++) {
                int live = 0;
                for (int tok = 0; tok < length; tok++) {
                    byte level = policy.level(l, tok);
                    assertEquals(shadow[l][tok], level, spec + ": layer " + l + " token " + tok + " level vs transitions");
                    if (level != Level.EVICT_CODE) {
                        live++;
                    }
                }
                assertEquals(live, policy.liveTokens(l), spec + ": live count of layer " + l);
                if (expected != null) {
                    for (int tok = 0; tok < length; tok++) {
                        assertEquals(expected[l][tok], shadow[l][tok], spec + ": oracle, layer " + l + " token " + tok
                                + " at step " + steps + (fromStep ? "" : " (endPrefill)"));
                    }
                }
                checkBudget(l, live, fromStep);
            }
            blockOut.clear();
            blocks.apply(t, blockOut);
            blocks.checkInvariants();
            checkBlocks();
        }

        void checkBudget(int layer, int live, boolean fromStep) {
            if (policy instanceof FullPolicy) {
                assertEquals(length, live, "full never evicts");
            } else if (policy instanceof StreamingPolicy) {
                StreamingPolicy p = (StreamingPolicy) policy;
                if (fromStep || !chunked) {
                    for (int tok = 0; tok < length; tok++) {
                        boolean kept = tok < p.sinks() || tok >= length - p.window();
                        assertEquals(kept, shadow[layer][tok] != Level.EVICT_CODE, spec + ": token " + tok + " of " + length);
                    }
                }
            } else if (policy instanceof H2oPolicy && context.bounded()) {
                assertEquals(Math.min(length, context.budgetTokens()), live, spec + ": h2o keeps exactly its budget");
            } else if (policy instanceof SnapKvPolicy && context.bounded()) {
                int generated = length - Math.min(length, prompt);
                int keptPrompt = Math.min(Math.min(length, prompt), context.budgetTokens());
                if (!fromStep || steps > (chunked ? prompt : 0)) {
                    assertEquals(keptPrompt + generated, live, spec + ": snapkv keeps budget + generated");
                }
            }
        }

        /** The levels the documented rules give after this call, from the levels before it; null if no oracle. */
        byte[][] expectedLevels(boolean fromStep) {
            if (policy instanceof H2oPolicy && context.bounded()) {
                return h2oGreedy();
            }
            if (hierarchical) {
                return paperClose(fromStep);
            }
            return null;
        }

        /** H2O: while a layer holds more than the budget, the non-recent live token with the lowest score goes, the older on ties. */
        byte[][] h2oGreedy() {
            int budget = context.budgetTokens();
            double heavy = spec.contains("heavy=") ? Double.parseDouble(spec.substring(spec.indexOf("heavy=") + 6)) : 0.5;
            int recent = budget - (int) Math.floor(budget * heavy);
            byte[][] e = new byte[layers][];
            for (int l = 0; l < layers; l++) {
                e[l] = Arrays.copyOf(shadow[l], length);
                int live = 0;
                for (int tok = 0; tok < length; tok++) {
                    live += e[l][tok] != Level.EVICT_CODE ? 1 : 0;
                }
                for (; live > budget; live--) {
                    int victim = -1;
                    for (int tok = 0; tok < length - recent; tok++) {
                        if (e[l][tok] != Level.EVICT_CODE && (victim < 0 || accumulated[l][tok] < accumulated[l][victim])) {
                            victim = tok;
                        }
                    }
                    e[l][victim] = Level.EVICT_CODE;
                }
            }
            return e;
        }

        /** The paper: at a window's close, every live token a window old moves one level toward what its count earned; counts restart. */
        byte[][] paperClose(boolean fromStep) {
            HierarchicalConfig c = ((HierarchicalPolicy) policy).config();
            byte[][] e = new byte[layers][];
            boolean closes = fromStep && steps % c.window() == 0;
            for (int l = 0; l < layers; l++) {
                e[l] = Arrays.copyOf(shadow[l], length);
                if (!closes) {
                    continue;
                }
                for (int tok = 0; tok < length; tok++) {
                    if ((e[l][tok] == Level.EVICT_CODE && policy.tierMode() == TierMode.DROP) || steps - birth[tok] < c.window()) {
                        continue;
                    }
                    int n = counts[l][tok];
                    Level earned = n >= c.cacheMin() ? Level.CACHE : n >= c.normalMin() ? Level.NORMAL
                            : n >= c.lowMin() ? Level.LOW : Level.EVICT;
                    int from = e[l][tok];
                    e[l][tok] = (byte) (from + Integer.signum(earned.ordinal() - from));
                }
                Arrays.fill(counts[l], 0);
            }
            return e;
        }

        /** Each block's level from its tokens, recomputed from scratch. */
        void checkBlocks() {
            int size = blocks.blockSize();
            for (int l = 0; l < layers; l++) {
                for (int b = 0; b < blocks.blocks(); b++) {
                    byte best = Level.EVICT_CODE;
                    int end = Math.min(length, (b + 1) * size);
                    for (int tok = b * size; tok < end; tok++) {
                        best = (byte) Math.min(best, shadow[l][tok]);
                    }
                    boolean full = end - b * size == size;
                    if (best != Level.EVICT_CODE || full) {
                        assertEquals(best, blocks.level(l, b), spec + ": layer " + l + " block " + b);
                    } else if (blocks.level(l, b) == Level.EVICT_CODE) {
                        fail(spec + ": partial tail block " + b + " was freed");
                    }
                }
            }
        }
    }
}
