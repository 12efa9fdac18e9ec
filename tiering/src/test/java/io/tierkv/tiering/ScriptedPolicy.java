package io.tierkv.tiering;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.PolicyContext;
import java.util.Arrays;

/**
 * A test policy whose levels and heat the test sets directly: moves requested with {@link #move} are emitted
 * at the next {@code step}/{@code endPrefill}, so tests can demote, promote and evict any block at will.
 * EVICT is final, as for every real policy.
 */
final class ScriptedPolicy implements KvPolicy {
    private int layers;
    private byte[][] levels = new byte[0][];
    private int[][] heat = new int[0][];
    private int[] live;
    private int length;
    private boolean started;
    private final Transitions pending = new Transitions();

    @Override
    public String name() {
        return "scripted";
    }

    @Override
    public void start(PolicyContext context) {
        if (started) {
            throw new IllegalStateException("scripted: start() called twice");
        }
        started = true;
        layers = context.layers();
        levels = new byte[layers][64];
        heat = new int[layers][64];
        live = new int[layers];
    }

    @Override
    public void append(int count) {
        if (count <= 0) {
            throw new IllegalArgumentException("append count must be > 0, was " + count);
        }
        int n = length + count;
        if (n > levels[0].length) {
            for (int l = 0; l < layers; l++) {
                levels[l] = Arrays.copyOf(levels[l], Math.max(n, levels[l].length * 2));
                heat[l] = Arrays.copyOf(heat[l], levels[l].length);
            }
        }
        for (int l = 0; l < layers; l++) {
            Arrays.fill(levels[l], length, n, Level.NORMAL_CODE);
            live[l] += count;
        }
        length = n;
    }

    /** Requests a move of one token, carried out at the next step. */
    void move(int layer, int token, byte level) {
        pending.add(layer, token, (byte) 0, level);
    }

    /** Requests a move of every token of a block of {@code blockSize} tokens. */
    void moveBlock(int layer, int block, int blockSize, byte level) {
        for (int t = block * blockSize; t < Math.min(length, (block + 1) * blockSize); t++) {
            move(layer, t, level);
        }
    }

    void setHeat(int layer, int token, int value) {
        heat[layer][token] = value;
    }

    private void flush(Transitions out) {
        for (int i = 0; i < pending.size(); i++) {
            int l = pending.layer(i);
            int t = pending.index(i);
            byte to = pending.to(i);
            byte from = levels[l][t];
            if (from == Level.EVICT_CODE || from == to) {
                continue;
            }
            levels[l][t] = to;
            if (to == Level.EVICT_CODE) {
                live[l]--;
            }
            out.add(l, t, from, to);
        }
        pending.clear();
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
    }

    @Override
    public void endPrefill(Transitions out) {
        flush(out);
    }

    @Override
    public void step(Transitions out) {
        flush(out);
    }

    @Override
    public byte level(int layer, int token) {
        if (token < 0 || token >= length) {
            throw new IndexOutOfBoundsException("token " + token + " of " + length);
        }
        return levels[layer][token];
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int liveTokens(int layer) {
        return live[layer];
    }

    @Override
    public int heat(int layer, int token) {
        return heat[layer][token];
    }

    @Override
    public void checkInvariants() {
    }
}
