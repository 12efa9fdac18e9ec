package io.tierkv.tiering.remote;

import io.tierkv.core.prefix.BlockHash;

import java.util.List;

/**
 * The leading full blocks of a prompt that the remote tier holds, with their values, ready to be copied
 * into the sequence's memory. Block {@code i} here is logical block {@code i} of the prompt. Holds the
 * values on the heap until {@link #copyInto}; drop it after.
 */
public final class RemotePrefix {
    private final BlockValueDescriptor format;
    private final List<BlockHash> hashes;
    private final byte[][] values; // (blocks) checked values: header + all layers' K and V

    RemotePrefix(BlockValueDescriptor format, List<BlockHash> hashes, byte[][] values) {
        this.format = format;
        this.hashes = List.copyOf(hashes);
        this.values = values;
    }

    /** The first {@code n} of these blocks (all of them when {@code n >= blocks()}). */
    public RemotePrefix leading(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0, was " + n);
        }
        if (n >= values.length) {
            return this;
        }
        return new RemotePrefix(format, hashes.subList(0, n), java.util.Arrays.copyOf(values, n));
    }

    /** Leading full blocks found: the prompt's first {@code blocks()} blocks. */
    public int blocks() {
        return hashes.size();
    }

    /** Prompt tokens these blocks cover: {@code blocks() * blockSize}; prefill may start at this position. */
    public int tokens(int blockSize) {
        return blocks() * blockSize;
    }

    /** The hashes of the found blocks, in order. */
    public List<BlockHash> hashes() {
        return hashes;
    }

    /** Payload bytes these blocks carry (K and V of every layer). */
    public long payloadBytes() {
        return (long) blocks() * format.payloadBytes();
    }

    /**
     * Copies every found block's K and V of every layer into {@code memory}: block {@code i}'s keys and values of
     * each layer through {@link BlockMemory#write} (by default at {@code memory.keyAddress(i, layer)} and
     * {@code memory.valueAddress(i, layer)}).
     */
    public void copyInto(BlockMemory memory) {
        for (int i = 0; i < values.length; i++) {
            format.decode(values[i], i, memory);
        }
    }

    /**
     * Copies found block {@code i}'s K and V of every layer into {@code memory} at logical block {@code i}: for a
     * sequence that appends and fills one block at a time (a device tier smaller than the prefix).
     */
    public void copyBlockInto(int i, BlockMemory memory) {
        if (i < 0 || i >= values.length) {
            throw new IndexOutOfBoundsException("block " + i + " outside the " + values.length + " found");
        }
        format.decode(values[i], i, memory);
    }
}
