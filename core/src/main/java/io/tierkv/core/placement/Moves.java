package io.tierkv.core.placement;

import java.util.Arrays;

/**
 * The moves a {@link Placement} decided, in order: which block goes where. Primitive arrays, nothing
 * allocated per move; {@link #clear()} keeps the capacity. The caller carries them out (the tier manager
 * with copies, the simulator by counting) and clears the list.
 */
public final class Moves {
    /** A block that just left the tail is copied to the host (it was written on the device). */
    public static final byte ADMIT_HOST = 0;
    /** Device to host. */
    public static final byte DEMOTE = 1;
    /** Host to device. */
    public static final byte PROMOTE = 2;
    /** The block's memory is released, wherever it is. */
    public static final byte FREE = 3;
    /** A block that just left the tail stays where it was written, on the device (no copy). */
    public static final byte ADMIT_DEVICE = 4;

    private int[] layer = new int[32];
    private int[] block = new int[32];
    private byte[] kind = new byte[32];
    private int size;

    void add(int layerIndex, int blockIndex, byte what) {
        if (size == layer.length) {
            int n = size * 2;
            layer = Arrays.copyOf(layer, n);
            block = Arrays.copyOf(block, n);
            kind = Arrays.copyOf(kind, n);
        }
        layer[size] = layerIndex;
        block[size] = blockIndex;
        kind[size] = what;
        size++;
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public int layer(int i) {
        return layer[i];
    }

    public int block(int i) {
        return block[i];
    }

    public byte kind(int i) {
        return kind[i];
    }

    public void clear() {
        size = 0;
    }

    public static String kindName(byte k) {
        switch (k) {
            case ADMIT_HOST: return "admit-host";
            case DEMOTE: return "demote";
            case PROMOTE: return "promote";
            case FREE: return "free";
            case ADMIT_DEVICE: return "admit-device";
            default: return "kind " + k;
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < size; i++) {
            sb.append(i == 0 ? "" : ", ").append(kindName(kind[i])).append(' ').append(layer[i]).append(':').append(block[i]);
        }
        return sb.append(']').toString();
    }
}
