package io.tierkv.tiering;

import io.tierkv.tiering.arena.SlotArena;
import java.util.Arrays;

/**
 * The one owner of every live block of a tier manager: int handles into parallel primitive arrays, in
 * the spirit of vLLM's block pool. A handle records which sequence, layer and logical block it is, and
 * where its bytes are:
 *
 * <pre>
 *   state       device slot                  host slot                    readers use
 *   DEVICE      the data                     -                            device
 *   HOST        -                            the data                     host
 *   TO_HOST     the data (copy source)       destination being written    device
 *   TO_DEVICE   destination being written    the data (copy source)       host
 * </pre>
 *
 * A copy's completion ({@link #completed}) is the only way out of TO_HOST and TO_DEVICE: on success the
 * block moves to the destination and the source slot is freed; on failure the destination slot is freed
 * and the block stays where it was. A block released while in flight (evicted or dropped) is marked
 * {@code dropOnArrival}, belongs to no sequence any more, and its slots are freed when its copy is reaped,
 * so no slot is ever reused while a copy still reads or writes it.
 *
 * <p>Sharing: a full prompt block may be held by several sequences of the manager (prefix sharing, see
 * {@link TierManager}); {@code refs} counts them, {@link #retain} adds one, {@link #release} lets go of one and
 * frees the block only when the last one goes. A shared block is counted once, in the per-sequence counters of
 * one holder, its <em>accounting owner</em> ({@link #sequenceOf}), which the manager moves with {@link #reassign}
 * to a holder that wants the block where it is.
 *
 * <p>Invariant (checked by {@link #checkInvariants()}): every allocated slot of either arena is held by
 * exactly one live handle and maps back to it ({@code deviceOwner}, {@code hostOwner}); the slots a handle
 * holds are exactly those its state says; a live handle has {@code refs >= 1} (0 once released); the
 * per-sequence counters equal a recount. Handles never run out: each live handle holds at least one slot, so
 * {@code deviceCapacity + hostCapacity} handles suffice.
 */
final class BlockPool {
    static final byte FREE = 0;
    static final byte DEVICE = 1;
    static final byte HOST = 2;
    static final byte TO_HOST = 3;
    static final byte TO_DEVICE = 4;
    static final int NONE = -1;

    /** Counter indexes, per sequence and in total. Resident: where readers find it; committed: where it will be. */
    static final int DEVICE_RESIDENT = 0;
    static final int HOST_RESIDENT = 1;
    static final int DEVICE_COMMITTED = 2;
    static final int HOST_COMMITTED = 3;
    static final int DEVICE_SLOTS = 4;
    static final int HOST_SLOTS = 5;
    static final int IN_FLIGHT = 6;
    static final int TO_HOST_IN_FLIGHT = 7;
    private static final int COUNTERS = 8;

    private final SlotArena device;
    private final SlotArena host;
    /** (handle) FREE, DEVICE, HOST, TO_HOST or TO_DEVICE. */
    private final byte[] state;
    /** (handle) slots held, or NONE. */
    private final int[] deviceSlot;
    private final int[] hostSlot;
    /** (handle) owning sequence id, layer, logical block. */
    private final int[] sequence;
    private final int[] layer;
    private final int[] block;
    /** (handle) sequences holding the block: 1 unless shared, 0 once released. */
    private final int[] refs;
    private int sharedHandles;
    /** (handle) released while in flight: free everything when the copy lands. */
    private final boolean[] dropOnArrival;
    /** (slot) handle holding the slot, or NONE. */
    private final int[] deviceOwner;
    private final int[] hostOwner;
    /** Stack of free handles. */
    private final int[] freeHandles;
    private int freeTop;
    /** (sequence * COUNTERS + counter) per-sequence counters; grows with sequence ids. */
    private int[] counts = new int[4 * COUNTERS];
    /** (counter) totals over all sequences, dropOnArrival blocks included. */
    private final int[] totals = new int[COUNTERS];
    private int peakDeviceSlots;
    private int peakHostSlots;
    /** (layer) bumped whenever a block of the layer, of any sequence, is created, moved, retained or released, or tokens masked. */
    private final long[] layerVersions;
    /** (layer) the part of {@link #layerVersions} that tokens masked moved: bumped together with it by {@link #masked}. */
    private final long[] maskVersions;

    BlockPool(SlotArena device, SlotArena host, int layers) {
        this.device = device;
        this.host = host;
        this.layerVersions = new long[layers];
        this.maskVersions = new long[layers];
        int handles = device.capacity() + host.capacity();
        state = new byte[handles];
        deviceSlot = new int[handles];
        hostSlot = new int[handles];
        sequence = new int[handles];
        layer = new int[handles];
        block = new int[handles];
        dropOnArrival = new boolean[handles];
        refs = new int[handles];
        deviceOwner = new int[device.capacity()];
        hostOwner = new int[host.capacity()];
        Arrays.fill(deviceOwner, NONE);
        Arrays.fill(hostOwner, NONE);
        Arrays.fill(deviceSlot, NONE);
        Arrays.fill(hostSlot, NONE);
        freeHandles = new int[handles];
        for (int h = 0; h < handles; h++) {
            freeHandles[h] = handles - 1 - h;
        }
        freeTop = handles;
    }

    /** Makes room for the counters of sequence {@code id}. */
    void ensureSequence(int id) {
        if ((id + 1) * COUNTERS > counts.length) {
            counts = Arrays.copyOf(counts, Math.max((id + 1) * COUNTERS, counts.length * 2));
        }
    }

    /** A new block of sequence {@code seq} on device slot {@code slot} (already allocated by the caller). */
    int createOnDevice(int seq, int layerIndex, int blockIndex, int slot) {
        if (freeTop == 0) {
            throw new IllegalStateException("block pool exhausted: every handle is live (a slot leak)");
        }
        int h = freeHandles[--freeTop];
        state[h] = DEVICE;
        sequence[h] = seq;
        layer[h] = layerIndex;
        block[h] = blockIndex;
        dropOnArrival[h] = false;
        refs[h] = 1;
        attachDevice(h, slot);
        account(h, 1);
        layerVersions[layerIndex]++;
        return h;
    }

    /** One more sequence holds live block {@code h} (a shared prefix block). */
    void retain(int h) {
        if (state[h] == FREE || dropOnArrival[h]) {
            throw new IllegalStateException("retain of block handle " + h + " that is released");
        }
        if (++refs[h] == 2) {
            sharedHandles++;
        }
        layerVersions[layer[h]]++;
    }

    /** Live handles held by more than one sequence. */
    int sharedHandles() {
        return sharedHandles;
    }

    /** Sequences holding {@code h}: 1 unless shared, 0 once released. */
    int refs(int h) {
        return refs[h];
    }

    /** Counts live block {@code h} for sequence {@code seq} from now on (its accounting owner). */
    void reassign(int h, int seq) {
        if (state[h] == FREE || dropOnArrival[h]) {
            throw new IllegalStateException("reassign of block handle " + h + " that is released");
        }
        if (sequence[h] == seq) {
            return;
        }
        account(h, -1);
        sequence[h] = seq;
        account(h, 1);
    }

    /** DEVICE to TO_HOST: a copy into {@code slot} (allocated by the caller) is about to be staged. */
    void startDemote(int h, int slot) {
        expect(h, DEVICE, "startDemote");
        layerVersions[layer[h]]++;
        account(h, -1);
        state[h] = TO_HOST;
        attachHost(h, slot);
        account(h, 1);
    }

    /** HOST to TO_DEVICE: a copy into {@code slot} (allocated by the caller) is about to be staged. */
    void startPromote(int h, int slot) {
        expect(h, HOST, "startPromote");
        layerVersions[layer[h]]++;
        account(h, -1);
        state[h] = TO_DEVICE;
        attachDevice(h, slot);
        account(h, 1);
    }

    /**
     * The copy of {@code h} finished. Returns the owning sequence id, or {@link #NONE} when the block had
     * been released meanwhile (its slots are now free).
     */
    int completed(int h, boolean ok) {
        byte s = state[h];
        if (s != TO_HOST && s != TO_DEVICE) {
            throw new IllegalStateException("copy completed for block handle " + h + " in state " + stateName(s));
        }
        layerVersions[layer[h]]++;
        account(h, -1);
        boolean arrived = ok;
        if (s == TO_HOST) {
            if (arrived) {
                detachDevice(h);
                state[h] = HOST;
            } else {
                detachHost(h);
                state[h] = DEVICE;
            }
        } else {
            if (arrived) {
                detachHost(h);
                state[h] = DEVICE;
            } else {
                detachDevice(h);
                state[h] = HOST;
            }
        }
        if (dropOnArrival[h]) {
            freeSettled(h);
            return NONE;
        }
        account(h, 1);
        return sequence[h];
    }

    /**
     * One holder lets go of a block; returns true when it was the last, and the block is freed: settled blocks now,
     * blocks in flight when their copy lands. A block other sequences still hold is left as it is (the manager
     * reassigns its accounting owner when that was the caller).
     */
    boolean release(int h) {
        byte s = state[h];
        if (s == FREE || dropOnArrival[h]) {
            throw new IllegalStateException("release of block handle " + h + " that is already released");
        }
        layerVersions[layer[h]]++;
        if (--refs[h] > 0) {
            if (refs[h] == 1) {
                sharedHandles--;
            }
            return false;
        }
        account(h, -1);
        if (s == TO_HOST || s == TO_DEVICE) {
            dropOnArrival[h] = true;
            account(h, 1);
        } else {
            freeSettled(h);
        }
        return true;
    }

    private void freeSettled(int h) {
        if (deviceSlot[h] != NONE) {
            detachDevice(h);
        }
        if (hostSlot[h] != NONE) {
            detachHost(h);
        }
        state[h] = FREE;
        dropOnArrival[h] = false;
        freeHandles[freeTop++] = h;
    }

    private void attachDevice(int h, int slot) {
        if (deviceOwner[slot] != NONE) {
            throw new IllegalStateException("device slot " + slot + " is already held by handle " + deviceOwner[slot]);
        }
        deviceSlot[h] = slot;
        deviceOwner[slot] = h;
        peakDeviceSlots = Math.max(peakDeviceSlots, device.used());
    }

    private void attachHost(int h, int slot) {
        if (hostOwner[slot] != NONE) {
            throw new IllegalStateException("host slot " + slot + " is already held by handle " + hostOwner[slot]);
        }
        hostSlot[h] = slot;
        hostOwner[slot] = h;
        peakHostSlots = Math.max(peakHostSlots, host.used());
    }

    private void detachDevice(int h) {
        int slot = deviceSlot[h];
        deviceOwner[slot] = NONE;
        deviceSlot[h] = NONE;
        device.free(slot);
    }

    private void detachHost(int h) {
        int slot = hostSlot[h];
        hostOwner[slot] = NONE;
        hostSlot[h] = NONE;
        host.free(slot);
    }

    /** Adds ({@code sign = 1}) or removes ({@code -1}) what handle {@code h} contributes to the counters now. */
    private void account(int h, int sign) {
        int base = sequence[h] * COUNTERS;
        byte s = state[h];
        int devSlots = deviceSlot[h] != NONE ? sign : 0;
        int hostSlots = hostSlot[h] != NONE ? sign : 0;
        add(base, DEVICE_SLOTS, devSlots);
        add(base, HOST_SLOTS, hostSlots);
        boolean flying = s == TO_HOST || s == TO_DEVICE;
        add(base, IN_FLIGHT, flying ? sign : 0);
        add(base, TO_HOST_IN_FLIGHT, s == TO_HOST ? sign : 0);
        if (dropOnArrival[h]) {
            return;
        }
        boolean readOnDevice = s == DEVICE || s == TO_HOST;
        boolean endsOnDevice = s == DEVICE || s == TO_DEVICE;
        add(base, readOnDevice ? DEVICE_RESIDENT : HOST_RESIDENT, sign);
        add(base, endsOnDevice ? DEVICE_COMMITTED : HOST_COMMITTED, sign);
    }

    private void add(int base, int counter, int delta) {
        counts[base + counter] += delta;
        totals[counter] += delta;
    }

    private void expect(int h, byte s, String what) {
        if (state[h] != s || dropOnArrival[h]) {
            throw new IllegalStateException(what + ": block handle " + h + " is " + stateName(state[h])
                    + (dropOnArrival[h] ? " (released)" : "") + ", expected " + stateName(s));
        }
    }

    static String stateName(byte s) {
        switch (s) {
            case FREE: return "FREE";
            case DEVICE: return "DEVICE";
            case HOST: return "HOST";
            case TO_HOST: return "TO_HOST";
            case TO_DEVICE: return "TO_DEVICE";
            default: return "state " + s;
        }
    }

    /**
     * A count that grows whenever a block of layer {@code l}, of any sequence, is created, starts or ends a copy, or gains or
     * loses a holder, and whenever a sequence masks tokens of the layer ({@link #masked}): while it stays the same, every
     * sequence's list of that layer's blocks, their tiers, slots and masked tokens stay the same. It never repeats for the
     * manager's life, across sequences too.
     */
    long layerVersion(int l) {
        return layerVersions[l];
    }

    /** A sequence masked tokens of layer {@code l} (their blocks stay): moves {@link #layerVersion} and {@link #maskVersion}. */
    void masked(int l) {
        layerVersions[l]++;
        maskVersions[l]++;
    }

    /**
     * How often tokens of layer {@code l} were masked ({@link #masked}), of any sequence: when two readings of this and of
     * {@link #layerVersion} moved by the same amount, only tokens were masked in between; no block changed.
     */
    long maskVersion(int l) {
        return maskVersions[l];
    }

    byte state(int h) {
        return state[h];
    }

    int deviceSlot(int h) {
        return deviceSlot[h];
    }

    int hostSlot(int h) {
        return hostSlot[h];
    }

    int sequenceOf(int h) {
        return sequence[h];
    }

    int layerOf(int h) {
        return layer[h];
    }

    int blockOf(int h) {
        return block[h];
    }

    boolean isReleased(int h) {
        return dropOnArrival[h];
    }

    /** The handle holding device slot {@code slot}, or NONE. */
    int atDevice(int slot) {
        return deviceOwner[slot];
    }

    /** The handle holding host slot {@code slot}, or NONE. */
    int atHost(int slot) {
        return hostOwner[slot];
    }

    /** One counter of one sequence. */
    int count(int seq, int counter) {
        return counts[seq * COUNTERS + counter];
    }

    /** One counter summed over all sequences (released blocks in flight included where they count). */
    int total(int counter) {
        return totals[counter];
    }

    /** Handles live now. */
    int live() {
        return state.length - freeTop;
    }

    /** The peaks restart from the slots in use now. */
    void resetPeaks() {
        peakDeviceSlots = device.used();
        peakHostSlots = host.used();
    }

    int peakDeviceSlots() {
        return peakDeviceSlots;
    }

    int peakHostSlots() {
        return peakHostSlots;
    }

    /** Re-checks slots against states and owners, and the counters against a recount. */
    void checkInvariants() {
        int[] recount = new int[counts.length];
        int[] recountTotals = new int[COUNTERS];
        int deviceHeld = 0;
        int hostHeld = 0;
        boolean[] isFree = new boolean[state.length];
        for (int i = 0; i < freeTop; i++) {
            isFree[freeHandles[i]] = true;
        }
        for (int h = 0; h < state.length; h++) {
            byte s = state[h];
            if ((s == FREE) != isFree[h]) {
                throw new IllegalStateException("handle " + h + " is " + stateName(s) + " but " + (isFree[h] ? "" : "not ") + "on the free stack");
            }
            if (s == FREE) {
                continue;
            }
            boolean wantDevice = s != HOST;
            boolean wantHost = s != DEVICE;
            checkSlot(h, "device", deviceSlot[h], wantDevice, deviceOwner, device);
            checkSlot(h, "host", hostSlot[h], wantHost, hostOwner, host);
            deviceHeld += wantDevice ? 1 : 0;
            hostHeld += wantHost ? 1 : 0;
            if (dropOnArrival[h] && s != TO_HOST && s != TO_DEVICE) {
                throw new IllegalStateException("handle " + h + " is released but settled in " + stateName(s));
            }
            if ((refs[h] == 0) != dropOnArrival[h]) {
                throw new IllegalStateException("handle " + h + " is held by " + refs[h] + " sequences"
                        + (dropOnArrival[h] ? " but released" : ""));
            }
            int base = sequence[h] * COUNTERS;
            recount[base + DEVICE_SLOTS] += wantDevice ? 1 : 0;
            recount[base + HOST_SLOTS] += wantHost ? 1 : 0;
            recount[base + IN_FLIGHT] += (s == TO_HOST || s == TO_DEVICE) ? 1 : 0;
            recount[base + TO_HOST_IN_FLIGHT] += s == TO_HOST ? 1 : 0;
            if (!dropOnArrival[h]) {
                recount[base + ((s == DEVICE || s == TO_HOST) ? DEVICE_RESIDENT : HOST_RESIDENT)]++;
                recount[base + ((s == DEVICE || s == TO_DEVICE) ? DEVICE_COMMITTED : HOST_COMMITTED)]++;
            }
        }
        if (deviceHeld != device.used() || hostHeld != host.used()) {
            throw new IllegalStateException("handles hold " + deviceHeld + " device and " + hostHeld + " host slots, arenas have "
                    + device.used() + " and " + host.used() + " in use");
        }
        for (int i = 0; i < counts.length; i++) {
            recountTotals[i % COUNTERS] += recount[i];
        }
        if (!Arrays.equals(recount, counts) || !Arrays.equals(recountTotals, totals)) {
            throw new IllegalStateException("block counters drifted: " + Arrays.toString(counts) + " vs recount " + Arrays.toString(recount));
        }
    }

    private static void checkSlot(int h, String tier, int slot, boolean want, int[] owner, SlotArena arena) {
        if (!want) {
            if (slot != NONE) {
                throw new IllegalStateException("handle " + h + " holds " + tier + " slot " + slot + " its state does not use");
            }
            return;
        }
        if (slot == NONE || owner[slot] != h || !arena.isAllocated(slot)) {
            throw new IllegalStateException("handle " + h + " " + tier + " slot " + slot + " is not allocated to it");
        }
    }
}
