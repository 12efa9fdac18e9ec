package io.tierkv.cuda.popularity;

import io.tierkv.core.popularity.PopularityCounter;
import java.util.Arrays;

/**
 * The CUDA popularity kernel's algorithm ({@code src/main/cuda/popularity.cu}), step by step, in plain
 * Java: the same composite keys, the same 11-bit digits, the same digit choice (bins owned by 256
 * "threads", top bins first, an exclusive scan over the threads), the same candidate passes. It exists
 * so that the kernel's logic is tested against the oracle on every build, on machines without a GPU;
 * the kernel is a transliteration of it, checked by reading. It is not a fast path (see
 * {@code FastPopularityCounter}).
 *
 * <p>Idea: the composite key {@code K(t) = ordered(score) << 32 | (0xFFFFFFFF - t)} is unique per
 * token and orders tokens exactly as the counter's contract does (score by {@link Float#compare}
 * descending, then lower position first). The top-k are the k largest K; a radix select on K's bits,
 * most significant digit first, pins the k-th largest without sorting anything.
 */
public final class RadixSelectPopularityCounter implements PopularityCounter {
    /** Threads of one CUDA block, as in the kernel. */
    static final int THREADS = 256;
    /** Radix digit width, as in the kernel. */
    static final int DIGIT_BITS = 11;
    static final int BINS = 1 << DIGIT_BITS;
    /** Up to this many candidates the kernel ranks them against each other instead of running radix passes. */
    static final int RANK_CANDIDATES = THREADS;

    private float[] score = new float[0];
    private int[] ordered = new int[0];
    private long[] candidates = new long[0];
    private final int[] bins = new int[BINS];

    @Override
    public String name() {
        return "java-radix-mirror";
    }

    @Override
    public int selectTopK(float[] probs, int offset, int heads, int stride, int keys, int k, int[] out) {
        PopularityCounter.checkArguments(probs, offset, heads, stride, keys, k, out);
        if (keys == 0) {
            return 0;
        }
        grow(keys);
        // Phase 1: head sums in order from 0.0f, ordered scores, histogram of the first digit.
        Arrays.fill(bins, 0);
        Arrays.fill(score, 0, keys, 0.0f);
        for (int h = 0; h < heads; h++) {
            int row = offset + h * stride;
            for (int t = 0; t < keys; t++) {
                score[t] += probs[row + t];
            }
        }
        for (int t = 0; t < keys; t++) {
            ordered[t] = orderedScore(score[t]);
            bins[ordered[t] >>> (32 - DIGIT_BITS)]++;
        }
        // Phase 2: the digit holding the need-th largest score.
        int need = Math.min(k, keys);
        long choice = chooseDigit(bins, BINS, need);
        int d0 = digit(choice);
        int needInBin = need - above(choice);
        boolean wholeBin = bins[d0] == needInBin;
        int emitted = 0;
        int c = 0;
        for (int t = 0; t < keys; t++) {
            int d = ordered[t] >>> (32 - DIGIT_BITS);
            if (d > d0 || (wholeBin && d == d0)) {
                out[emitted++] = t;
            } else if (!wholeBin && d == d0) {
                candidates[c++] = composite(ordered[t], t);
            }
        }
        if (!wholeBin) {
            emitted = resolveCandidates(c, d0, needInBin, out, emitted);
        }
        if (emitted != need) {
            throw new IllegalStateException("radix select emitted " + emitted + " positions, expected " + need);
        }
        Arrays.sort(out, 0, emitted);
        return emitted;
    }

    /**
     * The last CTA's selection among the candidates of bin d0: up to {@link #RANK_CANDIDATES}, each is kept when fewer
     * than {@code needInBin} candidates have a larger (unique) composite key; beyond, the candidate passes, 11 bits at a
     * time below the first digit, until the chosen bin is wholly selected.
     */
    private int resolveCandidates(int c, int d0, int needInBin, int[] out, int emitted) {
        if (c <= RANK_CANDIDATES) {
            for (int i = 0; i < c; i++) {
                int rank = 0;
                for (int j = 0; j < c; j++) {
                    rank += Long.compareUnsigned(candidates[j], candidates[i]) > 0 ? 1 : 0;
                }
                if (rank < needInBin) {
                    out[emitted++] = positionOf(candidates[i]);
                }
            }
            return emitted;
        }
        long prefix = d0;
        int consumed = DIGIT_BITS;
        while (true) {
            int bits = Math.min(DIGIT_BITS, 64 - consumed);
            int shift = 64 - consumed - bits;
            int numBins = 1 << bits;
            Arrays.fill(bins, 0, numBins, 0);
            for (int i = 0; i < c; i++) {
                long key = candidates[i];
                if ((key >>> (64 - consumed)) == prefix) {
                    bins[(int) (key >>> shift) & (numBins - 1)]++;
                }
            }
            long next = chooseDigit(bins, numBins, needInBin);
            prefix = (prefix << bits) | digit(next);
            consumed += bits;
            needInBin -= above(next);
            if (bins[digit(next)] == needInBin) {
                break;
            }
        }
        for (int i = 0; i < c; i++) {
            long key = candidates[i];
            if (Long.compareUnsigned(key >>> (64 - consumed), prefix) >= 0) {
                out[emitted++] = positionOf(key);
            }
        }
        return emitted;
    }

    /**
     * The kernel's {@code chooseDigit}: thread {@code i} owns bins {@code [hi - per, hi)} with
     * {@code hi = numBins - per * i}; an exclusive scan over threads counts the keys above each
     * thread's bins; the one bin where the running count crosses {@code need} is chosen. Returns
     * {@code digit << 32 | above}.
     */
    static long chooseDigit(int[] bins, int numBins, int need) {
        int per = numBins / THREADS;
        int[] local = new int[THREADS];
        for (int tid = 0; tid < THREADS; tid++) {
            int hi = numBins - per * tid;
            for (int e = hi - per; e < hi; e++) {
                local[tid] += bins[e];
            }
        }
        long result = -1;
        int exclusive = 0;
        for (int tid = 0; tid < THREADS; tid++) {
            int running = exclusive;
            int hi = numBins - per * tid;
            for (int e = hi - 1; e >= hi - per; e--) {
                int count = bins[e];
                if (running < need && running + count >= need) {
                    if (result != -1) {
                        throw new IllegalStateException("two bins chose themselves: " + digit(result) + " and " + e);
                    }
                    result = ((long) e << 32) | running;
                }
                running += count;
            }
            exclusive += local[tid];
        }
        if (result == -1) {
            throw new IllegalStateException("no bin holds the " + need + "-th key among " + exclusive);
        }
        return result;
    }

    /** Float bits to an int whose unsigned order is {@link Float#compare}'s: the kernel's {@code orderedScore}. */
    static int orderedScore(float s) {
        int b = Float.floatToRawIntBits(s);
        return (b & 0x80000000) != 0 ? ~b : (b | 0x80000000);
    }

    static long composite(int ordered, int t) {
        return ((long) ordered << 32) | (0xFFFFFFFFL - t);
    }

    static int positionOf(long key) {
        return (int) (0xFFFFFFFFL - (key & 0xFFFFFFFFL));
    }

    private static int digit(long choice) {
        return (int) (choice >>> 32);
    }

    private static int above(long choice) {
        return (int) choice;
    }

    private void grow(int keys) {
        if (score.length < keys) {
            score = new float[keys];
            ordered = new int[keys];
            candidates = new long[keys];
        }
    }
}
