package io.tierkv.model.generate;

import java.util.Arrays;

/**
 * The per-head choice of {@code select=head} ({@link HostRead#perHead()}), from one score per (host block, query head):
 * which KV head reads which host block's slice this step. The one rule of both backends: the CPU's
 * {@link HostBlockSelector} and the CUDA decoder's tiered store, which downloads the digests' scores from the device and
 * writes the choice back as a per-(entry, KV head) mask of the attention kernel.
 *
 * <p>A KV head's value of a block is {@code log sum_h exp(score_h - best_h)} over its query heads ({@code best_h} the
 * head's best score over the blocks): its distance from its best block, in log-weight. Every KV head reads its best block
 * first; the rest of the cap goes to the (KV head, block) pairs of the highest value over all KV heads, so a head whose
 * scores are flat gets more slices than one with a clear winner. A score of {@code +inf} (a block without a digest) must
 * be read; {@code -inf} (a slice that is not a candidate) weighs nothing. Past each head's first slice, a slice whose
 * value is below {@code log(min)} ({@link HostRead#min()}) is not read. A NaN score is no head's best and a NaN value is
 * never taken (a KV head whose every value is NaN reads block 0, its one slice). Not thread-safe; arrays are reused.
 */
public final class HeadSlices {
    private final HostRead hostRead;
    private final int heads;
    private final int kvHeads;
    /** (H) each query head's best score, reused. */
    private final float[] best;
    /** (blocks, K) a KV head's value of a block, reused. */
    private float[] value = new float[0];
    /** (blocks, K) true where KV head kh reads block i. */
    private boolean[] headChosen = new boolean[0];
    /** (blocks) true where some KV head reads block i. */
    private boolean[] chosen = new boolean[0];

    public HeadSlices(HostRead hostRead, int heads, int kvHeads) {
        if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads " + heads + " must be a positive multiple of kvHeads " + kvHeads);
        }
        this.hostRead = hostRead;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.best = new float[heads];
    }

    /** Chooses at most {@link HostRead#slicesFor} slices of {@code n} blocks from {@code scores} (n, H); returns how many. */
    public int choose(float[] scores, int n) {
        return choose(scores, n, hostRead.slicesFor(kvHeads));
    }

    /** As {@link #choose(float[], int)} with a cap of {@code cap} slices; returns how many were chosen. */
    public int choose(float[] scores, int n, int cap) {
        return choose(scores, n, cap, hostRead.min());
    }

    /**
     * As {@link #choose(float[], int, int)} with the gate {@code min} in place of {@link HostRead#min()} (the device's kernel
     * takes both as arguments; the host mirror calls this).
     */
    public int choose(float[] scores, int n, int cap, double min) {
        ensure(n);
        int group = heads / kvHeads;
        Arrays.fill(best, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < heads; h++) {
                float b = scores[i * heads + h];
                if (b > best[h]) { // a NaN score is no head's best (the kernel's fmaxf)
                    best[h] = b;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int kh = 0; kh < kvHeads; kh++) {
                double sum = 0;
                for (int h = kh * group; h < (kh + 1) * group; h++) {
                    float b = scores[i * heads + h];
                    sum += b == Float.POSITIVE_INFINITY ? Double.POSITIVE_INFINITY
                            : best[h] == Float.POSITIVE_INFINITY || b == Float.NEGATIVE_INFINITY ? 0 : Math.exp(b - best[h]);
                }
                value[i * kvHeads + kh] = (float) Math.log(sum);
            }
            chosen[i] = false;
        }
        Arrays.fill(headChosen, 0, n * kvHeads, false);
        int budget = Math.min(cap, n * kvHeads);
        int taken = 0;
        if (budget >= kvHeads) { // every KV head its best block first
            for (int kh = 0; kh < kvHeads; kh++) {
                int arg = -1;
                for (int i = 0; i < n; i++) {
                    if (beats(value[i * kvHeads + kh], arg < 0 ? Float.NaN : value[arg * kvHeads + kh], arg)) {
                        arg = i;
                    }
                }
                headChosen[(arg < 0 ? 0 : arg) * kvHeads + kh] = true; // every value NaN: block 0
                taken++;
            }
        }
        for (; taken < budget; taken++) { // then the closest to their head's best, over all heads
            int arg = -1;
            for (int c = 0; c < n * kvHeads; c++) {
                if (!headChosen[c] && beats(value[c], arg < 0 ? Float.NaN : value[arg], arg)) {
                    arg = c;
                }
            }
            if (arg < 0 || value[arg] < Math.log(min)) { // none left that is a number; min=0: log 0 = -inf, any may be read
                break;
            }
            headChosen[arg] = true;
        }
        for (int c = 0; c < n * kvHeads; c++) {
            if (headChosen[c]) {
                chosen[c / kvHeads] = true;
            }
        }
        return taken;
    }

    /**
     * {@code keys=C}'s second stage, after {@link #choose(float[], int, int)} chose the {@code scored} candidate slices:
     * {@code exact} (n, H), each query head's best exact score in each block, is set to -inf where that head's KV head
     * did not choose the block (its keys were not read), and the same choice over what is left keeps
     * {@link HostRead#slicesFor} slices (at most {@code scored}); returns how many.
     */
    public int refine(float[] exact, int n, int scored) {
        int group = heads / kvHeads;
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < heads; h++) {
                if (!headChosen[i * kvHeads + h / group]) {
                    exact[i * heads + h] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        return choose(exact, n, Math.min(hostRead.slicesFor(kvHeads), scored));
    }

    /**
     * Whether {@code v} beats the best so far ({@code best}, at index {@code bestIndex}, -1 for none): a NaN never does;
     * scanning in index order, an equal value at a higher index does not either (the kernel's tie rule).
     */
    private static boolean beats(float v, float best, int bestIndex) {
        return !Float.isNaN(v) && (bestIndex < 0 || v > best);
    }

    /** True where some KV head reads block {@code i} after the last choice. */
    public boolean chosen(int i) {
        return chosen[i];
    }

    /** True where KV head {@code kvHead} reads block {@code i} after the last choice. */
    public boolean headChosen(int i, int kvHead) {
        return headChosen[i * kvHeads + kvHead];
    }

    /** The (blocks, K) choice of the last call; valid for its first {@code n * K} entries until the next call. */
    boolean[] headChosen() {
        return headChosen;
    }

    /** The (blocks) choice of the last call; valid for its first {@code n} entries until the next call. */
    boolean[] chosen() {
        return chosen;
    }

    private void ensure(int n) {
        if (chosen.length < n) {
            int c = Math.max(n, chosen.length * 2);
            chosen = new boolean[c];
            headChosen = new boolean[c * kvHeads];
            value = new float[c * kvHeads];
        }
    }
}
