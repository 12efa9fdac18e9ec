package io.tierkv.examples;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.SequenceBudget;
import io.tierkv.tiering.TierConfig;
import io.tierkv.tiering.TierManager;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Random;

/**
 * Drives TierKV from a toy decoder ({@link ToyDecoder}): a 48-token prompt, then 48 generated tokens, under
 * a device budget of a quarter of the prompt, with a policy registered by the embedder.
 *
 * <pre>
 *   java -cp examples/target/classes:... io.tierkv.examples.EmbeddingExample   (its test runs it in mvn verify)
 * </pre>
 */
public final class EmbeddingExample {
    static final int LAYERS = 2;
    static final int BLOCK_SIZE = 8;
    static final int PROMPT = 48;
    static final int GENERATE = 48;

    /** What a run did: the largest tiered-against-dense attention difference, and the blocks that moved. */
    public record Summary(double maxDenseError, long demotedBlocks, int hostBlocksAtEnd, int keptTokensAtEnd, int length) {
    }

    private EmbeddingExample() {
    }

    public static void main(String[] args) {
        run(System.out, args.length > 0 ? args[0] : "example-hierarchical");
    }

    /** The embedder's own policy name: the paper's policy with a short window, so that levels change in a short run, in
     * drop mode (the paper's compression: evicted tokens are freed), so that the run shows tokens leaving. */
    static synchronized void registerPolicy() {
        if (!Policies.isKnown("example-hierarchical")) {
            Policies.register("example-hierarchical", options -> {
                int window = options.getInt("window", 8);
                options.finish();
                return Policies.create("hierarchical:window=" + window + ",k=4,mode=drop");
            });
        }
    }

    /** Runs the example with the policy {@code spec}, printing as it goes. */
    public static Summary run(PrintStream out, String spec) {
        registerPolicy();
        KvLayout layout = new KvLayout(LAYERS, ToyDecoder.KV_HEADS, ToyDecoder.HEAD_DIM, DType.F32, BLOCK_SIZE);
        SequenceBudget budget = SequenceBudget.tokens(PROMPT / 4);      // tokens per layer: the policy's and the tiers' unit
        int deviceBlocks = budget.deviceBlocks(layout);                  // what the tiers reserve for it, tail blocks included
        TierConfig config = TierConfig.cpu(layout, deviceBlocks + LAYERS, LAYERS * ((PROMPT + GENERATE) / BLOCK_SIZE + 1));
        double maxError = 0;
        try (TierManager tiers = TierManager.create(config)) {
            KvPolicy policy = Policies.create(spec);
            ToyDecoder decoder = new ToyDecoder(LAYERS, tiers.descriptor(), 1);
            try (Sequence seq = tiers.open(policy, PROMPT, budget)) {
                Random rnd = new Random(2);
                float[] logits = null;
                for (int i = 0; i < PROMPT; i++) {
                    logits = decoder.forward(seq, rnd.nextInt(ToyDecoder.VOCAB));
                    maxError = Math.max(maxError, decoder.lastDenseError());
                }
                seq.endPrefill();
                out.printf(Locale.ROOT, "policy %s, device budget %d blocks of %d tokens over %d layers%n", policy.name(), deviceBlocks,
                        BLOCK_SIZE, LAYERS);
                out.println(" step  length  kept/layer  device blocks  host blocks  max |tiered - dense|");
                print(out, 0, seq, maxError);
                for (int step = 1; step <= GENERATE; step++) {
                    int next = argmax(logits);
                    logits = decoder.forward(seq, next);
                    seq.step();
                    maxError = Math.max(maxError, decoder.lastDenseError());
                    if (step % 12 == 0) {
                        print(out, step, seq, maxError);
                    }
                }
                Summary s = new Summary(maxError, tiers.stats().d2hBytes() / tiers.slotBytes(), seq.hostBlocks(), seq.keptTokens(),
                        seq.length());
                out.println(tiers.stats().summary());
                return s;
            }
        }
    }

    private static void print(PrintStream out, int step, Sequence seq, double error) {
        out.printf(Locale.ROOT, "%5d  %6d  %10d  %13d  %11d  %.2e%n", step, seq.length(), seq.keptTokens(), seq.deviceBlocks(),
                seq.hostBlocks(), error);
    }

    private static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }
}
