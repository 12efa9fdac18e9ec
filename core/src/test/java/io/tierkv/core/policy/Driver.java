package io.tierkv.core.policy;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import java.util.ArrayList;
import java.util.List;

/**
 * Drives a policy through the {@link KvPolicy} protocol the way the generation loop does, with
 * single-head attention rows that the test writes, so that the top-k of every query is known.
 */
final class Driver {
    /** Writes the attention row of one query in one layer: {@code row.length == keys}, zeros on entry. */
    interface Rows {
        void fill(int layer, int query, float[] row);
    }

    final KvPolicy policy;
    final int layers;
    final Transitions out = new Transitions();

    Driver(KvPolicy policy, PolicyContext context) {
        this.policy = policy;
        this.layers = context.layers();
        policy.start(context);
    }

    static Driver of(String spec, int layers, int prompt) {
        return new Driver(Policies.create(spec), PolicyContext.unbounded(layers, prompt));
    }

    static Driver bounded(String spec, int layers, int prompt, int budget) {
        return new Driver(Policies.create(spec), PolicyContext.bounded(layers, prompt, budget));
    }

    /** Full prefill: append the prompt, observe the rows the policy asks for, end the prefill. */
    Transitions prefill(int prompt, Rows rows) {
        policy.append(prompt);
        int wanted = Math.min(prompt, policy.prefillRows(prompt));
        for (int q = prompt - wanted; q < prompt; q++) {
            observeAll(q, q + 1, rows);
        }
        out.clear();
        policy.endPrefill(out);
        return out;
    }

    /** Full prefill with no rows to show. */
    Transitions prefill(int prompt) {
        return prefill(prompt, (l, q, row) -> row[q] = 1f);
    }

    /** One generated token: append, one row per layer over every key, step. Returns the step's transitions. */
    Transitions decode(Rows rows) {
        policy.append(1);
        int q = policy.length() - 1;
        observeAll(q, q + 1, rows);
        out.clear();
        policy.step(out);
        return out;
    }

    /** Decodes one token whose single query attends only to {@code hot} in every layer. */
    Transitions decodeAttending(int hot) {
        return decode((l, q, row) -> row[hot] = 1f);
    }

    private void observeAll(int query, int keys, Rows rows) {
        for (int l = 0; l < layers; l++) {
            float[] row = new float[keys];
            rows.fill(l, query, row);
            policy.observe(l, query, row, 0, 1, keys, keys);
        }
    }

    /** The live token positions of one layer. */
    List<Integer> live(int layer) {
        List<Integer> kept = new ArrayList<>();
        for (int t = 0; t < policy.length(); t++) {
            if (Level.isLive(policy.level(layer, t))) {
                kept.add(t);
            }
        }
        return kept;
    }

    Level level(int layer, int token) {
        return Level.of(policy.level(layer, token));
    }

    /** Puts weights on {@code hot}, most attended first: hot[0] gets n, hot[1] n-1, ... (normalised). */
    static void spread(float[] row, int... hot) {
        int n = hot.length;
        float total = n * (n + 1) / 2f;
        for (int i = 0; i < n; i++) {
            row[hot[i]] += (n - i) / total;
        }
    }
}
