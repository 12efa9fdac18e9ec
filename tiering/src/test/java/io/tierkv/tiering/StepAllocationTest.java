package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The decode step's bookkeeping allocates nothing once warm: {@link Sequence#append}, {@link Sequence#observe}
 * per layer and {@link Sequence#step}, counted with the thread's allocated-bytes counter over rounds of 100 steps.
 * The policy closes a window every step (window 1): the most a step can do, and it gets the close compiled
 * early. Until the JIT has compiled the Vector API loops their vectors are objects,
 * and arrays double as the sequence grows, so some early rounds allocate; the test asks for a round that
 * allocates no more than the counter's own call, within a bounded number of rounds.
 */
class StepAllocationTest {
    private static final KvLayout LAYOUT = new KvLayout(4, 1, 4, DType.F32, 16);
    /** Bytes a round may show without allocating anything per step (the measurement's own). */
    private static final long SLACK_BYTES = 256;
    private static final int ROUND = 100;
    private static final int ROUNDS = 40;

    @Test
    void decodeSteps_withWindowCloses_allocateNothingOnceWarm() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported(), "this JVM counts no allocated bytes per thread");
        threads.setThreadAllocatedMemoryEnabled(true);
        int prompt = 1000;
        try (TierManager m = TierManager.create(TierConfig.builder(LAYOUT).backend(Backend.CPU).deviceCapacityBlocks(80)
                .hostCapacityBlocks(4096).build())) {
            Sequence s = m.open(Policies.create("hierarchical:window=1"), PolicyContext.unbounded(LAYOUT.layers(), prompt), 64);
            for (int start = 0; start < prompt; start += LAYOUT.blockSize()) {
                s.append(Math.min(LAYOUT.blockSize(), prompt - start));
            }
            s.endPrefill();
            float[] probs = new float[prompt + ROUND * ROUNDS + 8];
            SplittableRandom random = new SplittableRandom(3);
            for (int i = 0; i < probs.length; i++) {
                probs[i] = (float) random.nextDouble();
            }
            long thread = Thread.currentThread().getId();
            StringBuilder seen = new StringBuilder();
            for (int round = 0; round < ROUNDS; round++) {
                long before = threads.getThreadAllocatedBytes(thread);
                for (int step = 0; step < ROUND; step++) {
                    s.append(1);
                    int keys = s.length();
                    for (int l = 0; l < LAYOUT.layers(); l++) {
                        s.observe(l, keys - 1, probs, (step + l) % 7, 1, keys, keys);
                    }
                    s.step();
                }
                long allocated = threads.getThreadAllocatedBytes(thread) - before;
                if (allocated <= SLACK_BYTES) {
                    return;
                }
                seen.append(allocated).append(' ');
            }
            fail("no round of " + ROUND + " decode steps allocated <= " + SLACK_BYTES + " bytes; rounds allocated " + seen);
        }
    }
}
