package io.tierkv.model.eval;

import io.tierkv.model.generate.DecodeMetrics;
import io.tierkv.tiering.TierStats;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import io.tierkv.model.generate.HostReadStats;
import org.HdrHistogram.Histogram;

/**
 * Accumulates one report cell (policy x position x round x question type): the rounds that fall in it
 * (their questions, KV kept, device shares, bytes) and, once each, the sessions those rounds belong to
 * (recalls, frees, stalls, TPOT, decode speed, peaks).
 */
final class EvalCell {
    private int correct;
    private int total;
    private int entries;
    private double keptSum;
    private DecodeMetrics.Snapshot metrics = DecodeMetrics.Snapshot.EMPTY;
    private double h2d;
    private double d2h;
    private long generated;

    private final Set<PromptRunner.Run> sessions = Collections.newSetFromMap(new IdentityHashMap<>());
    private double keptPeak;
    private long devicePeak;
    private double budgetPeak;
    private double prefillH2d;
    private double prefillD2h;
    private double decodeH2d;
    private double decodeD2h;
    private double promotions;
    private double frees;
    private double stallNanos;
    private long decodeNanos;
    private long decodeSteps;
    private final Histogram tpot = new Histogram(3);
    private HostReadStats reads;
    private long digestBytesPeak;

    /** One round of {@code run}. */
    void addRound(PromptRunner.RoundRun round, PromptRunner.Run run) {
        count(round.correct());
        entries++;
        keptSum += round.keptFraction();
        metrics = metrics.plus(round.metrics());
        h2d += round.h2dBytes();
        d2h += round.d2hBytes();
        generated += round.tokens();
        addReads(round.reads());
        addSessionFigures(run);
    }

    /** A whole session, every round. */
    void addSession(PromptRunner.Run run) {
        count(run.correct());
        entries++;
        keptSum += run.keptFraction();
        metrics = metrics.plus(run.metrics());
        h2d += run.stats().h2dBytes();
        d2h += run.stats().d2hBytes();
        generated += run.generated();
        addReads(run.reads());
        addSessionFigures(run);
    }

    /** The host reads of what the cell counts: a round's own in a round's cell, the session's in the cell of all rounds. */
    private void addReads(HostReadStats r) {
        if (r == null) {
            return;
        }
        if (reads == null) {
            reads = new HostReadStats(r.layers());
        }
        reads.addAll(r);
    }

    private void count(boolean[] outcomes) {
        for (boolean ok : outcomes) {
            total++;
            if (ok) {
                correct++;
            }
        }
    }

    private void addSessionFigures(PromptRunner.Run run) {
        if (!sessions.add(run)) {
            return;
        }
        TierStats st = run.stats();
        keptPeak = Math.max(keptPeak, run.keptPeakFraction());
        devicePeak = Math.max(devicePeak, run.deviceBytesPeak());
        budgetPeak = Math.max(budgetPeak, run.budgetPeak());
        prefillH2d += run.prefillH2d();
        prefillD2h += run.prefillD2h();
        decodeH2d += run.decodeH2d();
        decodeD2h += run.decodeD2h();
        promotions += st.promotionsStarted();
        frees += st.evictedBlocks() + st.droppedBlocks();
        stallNanos += st.stallNanos();
        decodeNanos += run.decodeNanos();
        digestBytesPeak = Math.max(digestBytesPeak, run.digestBytesPeak());
        for (long t : run.tpotNanos()) {
            tpot.recordValue(Math.max(1, t));
            decodeSteps++;
        }
    }

    double accuracy() {
        return total == 0 ? 0 : correct / (double) total;
    }

    /** Whether no run was counted yet (its accuracy then reads 0). */
    boolean isEmpty() {
        return total == 0;
    }

    EvalRow row(String policy, String position, String round, String type) {
        int n = Math.max(1, entries);
        int sessionsN = Math.max(1, sessions.size());
        return new EvalRow(policy, position, round, type, correct, total, accuracy(), keptSum / n, keptPeak, devicePeak, budgetPeak,
                metrics.deviceAttentionShare(), metrics.deviceAttentionBound(), metrics.deviceAttentionTokenBound(), metrics.deviceTopkShare(), h2d / n, d2h / n,
                generated == 0 ? 0 : h2d / generated, generated == 0 ? 0 : d2h / generated,
                prefillH2d / sessionsN, prefillD2h / sessionsN, decodeH2d / sessionsN, decodeD2h / sessionsN,
                promotions / sessionsN, frees / sessionsN, stallNanos / sessionsN / 1e6, metrics.hostNanos() / n / 1e6,
                percentileMs(50), percentileMs(90), percentileMs(99),
                decodeNanos == 0 ? 0 : decodeSteps / (decodeNanos / 1e9),
                reads == null ? 1.0 : reads.fraction(), reads == null ? Double.NaN : reads.recall(),
                reads == null ? "" : reads.recallText(), digestBytesPeak);
    }

    private double percentileMs(double p) {
        return tpot.getTotalCount() == 0 ? Double.NaN : tpot.getValueAtPercentile(p) / 1e6;
    }
}
