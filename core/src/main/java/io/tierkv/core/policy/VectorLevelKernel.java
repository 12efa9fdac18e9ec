package io.tierkv.core.policy;

import io.tierkv.core.Level;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link LevelKernel} with the Vector API, eight tokens at a time: counts, births and levels load as int lanes,
 * the new level is compares and masked adds (no branch, no table), and a group with changes is compacted with
 * one precomputed shuffle per change mask (256 of them) straight into the output, so the work per token
 * does not depend on the mix of levels and nothing is written for a group that does not change.
 * Loaded only when {@code jdk.incubator.vector} is in the boot layer; never reference this class directly.
 */
final class VectorLevelKernel extends LevelKernel {
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_64;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_128;
    private static final int LANES = INTS.length();
    /** (mask) the shuffle that moves the lanes set in {@code mask} to the front, in order. */
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Integer>[] COMPACT = new VectorShuffle[1 << LANES];
    /** (lane) {@code 1 << lane}, to turn a mask into its bits with one masked reduction. */
    private static final IntVector LANE_BITS = IntVector.fromArray(INTS, new int[] {1, 2, 4, 8, 16, 32, 64, 128}, 0);
    private static final IntVector IOTA = IntVector.fromArray(INTS, new int[] {0, 1, 2, 3, 4, 5, 6, 7}, 0);

    static {
        for (int mask = 0; mask < COMPACT.length; mask++) {
            int[] lanes = new int[LANES];
            int n = 0;
            for (int lane = 0; lane < LANES; lane++) {
                if ((mask & (1 << lane)) != 0) {
                    lanes[n++] = lane;
                }
            }
            COMPACT[mask] = VectorShuffle.fromArray(INTS, lanes, 0);
        }
    }

    @Override
    int close(byte[] levels, int[] counts, int[] birth, int start, int end, int bornBy, int finalLevel,
              int cache, int normal, int low, short[] changes, int at) {
        IntVector one = IntVector.broadcast(INTS, 1);
        IntVector minusOne = IntVector.broadcast(INTS, -1);
        IntVector evict = IntVector.broadcast(INTS, Level.EVICT_CODE);
        // (lane) offset << 4 of each lane's token in the span, advanced by a vector at a time
        IntVector offsets = IOTA.lanewise(VectorOperators.LSHL, 4);
        IntVector advance = IntVector.broadcast(INTS, LANES << 4);
        // (lane) EVICT arrivals less departures
        IntVector evictions = IntVector.zero(INTS);
        int n = at;
        int t = start;
        for (int upper = start + INTS.loopBound(end - start); t < upper; t += LANES, offsets = offsets.add(advance)) {
            IntVector c = IntVector.fromArray(INTS, counts, t);
            IntVector f = (IntVector) ByteVector.fromArray(BYTES, levels, t).convertShape(VectorOperators.B2I, INTS, 0);
            IntVector earned = evict.sub(one, c.compare(VectorOperators.GE, low))
                    .sub(one, c.compare(VectorOperators.GE, normal))
                    .sub(one, c.compare(VectorOperators.GE, cache));
            VectorMask<Integer> judged = IntVector.fromArray(INTS, birth, t).compare(VectorOperators.LE, bornBy)
                    .and(f.compare(VectorOperators.LT, finalLevel));
            // one level toward the earned one: f + signum(earned - f), where judged
            IntVector nt = f.add(earned.sub(f).max(minusOne).min(one), judged);
            VectorMask<Integer> changed = nt.compare(VectorOperators.NE, f);
            int mask = LANE_BITS.reduceLanes(VectorOperators.ADD, changed);
            if (mask == 0) {
                continue;
            }
            bytes(nt).intoArray(levels, t);
            IntVector entries = offsets.or(f.lanewise(VectorOperators.LSHL, 2)).or(nt).rearrange(COMPACT[mask]);
            ((ShortVector) entries.convertShape(VectorOperators.I2S, SHORTS, 0)).intoArray(changes, n);
            n += Integer.bitCount(mask);
            evictions = evictions.add(one, nt.compare(VectorOperators.EQ, Level.EVICT_CODE))
                    .sub(one, f.compare(VectorOperators.EQ, Level.EVICT_CODE));
        }
        net += evictions.reduceLanes(VectorOperators.ADD);
        return closeScalar(levels, counts, birth, t, end, bornBy, finalLevel, cache, normal, low, start, changes, n);
    }

    private static ByteVector bytes(IntVector v) {
        return (ByteVector) v.convertShape(VectorOperators.I2B, BYTES, 0);
    }
}
