package io.tierkv.bench.sim;

import io.tierkv.core.Budget;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceSource;
import io.tierkv.model.generate.HostRead;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Runs a grid of replays (every policy at every budget) on a thread pool, each replay reading its own
 * copy of the trace, and fills in every row's ratios to the clairvoyant row of its budget (clairvoyant
 * is always run, even when not asked for, and then left out of the rows). Long grids report progress
 * every few seconds.
 */
public final class Simulation {
    /** Seconds between progress lines. */
    static final long PROGRESS_SECONDS = 5;

    /** Opens a fresh copy of the trace for one replay. */
    @FunctionalInterface
    public interface TraceOpener {
        TraceSource open() throws IOException;
    }

    /**
     * What to run.
     *
     * @param trace    opens the trace, once per replay and once for the clairvoyant's future
     * @param policies policy specs, in report order
     * @param budgets  device budgets, in report order
     * @param threads  replays run at once
     * @param log      where progress goes (null for none)
     * @param hostRead how attention reads the host tier ({@link HostReads})
     */
    public record Plan(TraceOpener trace, List<String> policies, List<Budget> budgets, int threads, PrintStream log,
                       HostRead hostRead) {
        /** Exact host reads. */
        public Plan(TraceOpener trace, List<String> policies, List<Budget> budgets, int threads, PrintStream log) {
            this(trace, policies, budgets, threads, log, HostRead.EXACT);
        }

        public Plan {
            if (policies.isEmpty() || budgets.isEmpty()) {
                throw new IllegalArgumentException("need at least one policy and one budget");
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1, was " + threads);
            }
            policies = List.copyOf(policies);
            budgets = List.copyOf(budgets);
        }
    }

    private Simulation() {
    }

    /** Runs the plan; rows are ordered by budget, then policy as given. */
    public static List<SimResult> run(Plan plan) throws IOException {
        TraceHeader header;
        try (TraceSource t = plan.trace().open()) {
            header = t.header();
        }
        for (Budget b : plan.budgets()) {
            Simulator.budgetBlocks(b, header);
        }
        boolean askedClairvoyant = plan.policies().stream().anyMatch(p -> SimPolicies.baseName(p).equals(SimPolicies.CLAIRVOYANT));
        List<String> policies = new ArrayList<>(plan.policies());
        if (!askedClairvoyant) {
            policies.add(SimPolicies.CLAIRVOYANT);
        }
        FutureIndex future;
        try (TraceSource t = plan.trace().open()) {
            future = FutureIndex.build(t);
        }
        int runs = policies.size() * plan.budgets().size();
        long totalSteps = (long) runs * header.steps();
        LongAdder steps = new LongAdder();
        AtomicInteger done = new AtomicInteger();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(plan.threads(), runs), r -> {
            Thread t = new Thread(r, "simulate");
            t.setDaemon(true);
            return t;
        });
        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "simulate-progress");
            t.setDaemon(true);
            return t;
        });
        if (plan.log() != null) {
            ticker.scheduleAtFixedRate(() -> plan.log().printf(Locale.ROOT, "simulate: %3.0f%% of %d replays' steps, %d done, %.0f s%n",
                    100.0 * steps.sum() / Math.max(1, totalSteps), runs, done.get(), (System.nanoTime() - start) / 1e9),
                    PROGRESS_SECONDS, PROGRESS_SECONDS, TimeUnit.SECONDS);
        }
        try {
            List<Future<SimResult>> futures = new ArrayList<>();
            for (Budget budget : plan.budgets()) {
                for (String spec : policies) {
                    futures.add(pool.submit(() -> {
                        SimPolicy policy = SimPolicies.create(spec);
                        try (TraceSource t = plan.trace().open()) {
                            SimResult r = Simulator.run(policy, t, budget, policy.needsFuture() ? future : null, steps,
                                    plan.hostRead());
                            done.incrementAndGet();
                            if (plan.log() != null) {
                                plan.log().printf(Locale.ROOT, "simulate: %-20s at %-6s hit ratio %.4f in %.1f s%n",
                                        r.policy(), r.budget(), r.hitRatio(), r.seconds());
                            }
                            return r;
                        }
                    }));
                }
            }
            List<SimResult> results = new ArrayList<>();
            for (Future<SimResult> f : futures) {
                results.add(get(f));
            }
            return withRatios(results, policies.size(), askedClairvoyant);
        } finally {
            ticker.shutdownNow();
            pool.shutdownNow();
        }
    }

    private static List<SimResult> withRatios(List<SimResult> results, int perBudget, boolean keepClairvoyant) {
        List<SimResult> out = new ArrayList<>();
        for (int i = 0; i < results.size(); i += perBudget) {
            List<SimResult> budget = results.subList(i, i + perBudget);
            SimResult opt = budget.stream().filter(r -> r.policy().equals(SimPolicies.CLAIRVOYANT)).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no clairvoyant row"));
            for (SimResult r : budget) {
                if (keepClairvoyant || r != opt) {
                    out.add(r.withRatiosTo(opt));
                }
            }
        }
        return out;
    }

    private static SimResult get(Future<SimResult> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException) {
                throw (IOException) c;
            }
            if (c instanceof RuntimeException) {
                throw (RuntimeException) c;
            }
            if (c instanceof Error) {
                throw (Error) c;
            }
            throw new UncheckedIOException(new IOException(c));
        }
    }
}
