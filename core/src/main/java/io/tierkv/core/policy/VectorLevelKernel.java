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
 * the new level is compares, masked subtractions and a clamp (no branch, no table), and a group with changes is
 * compacted with one precomputed shuffle per change mask (256 of them) straight into the output; nothing is
 * written for a group that does not change. Measured at 128k tokens x 32 layers with 81% of the tokens moving
 * (WindowCloseBenchmark, 2-core AMD EPYC, JDK 17, JMH means): 5.7 ms against 56 ms for the scalar loop writing
 * 10-byte transitions; 16 lanes were no faster there (AVX-512 runs as two 256-bit halves).
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
    /** (lane) {@code lane << 4}: a lane's offset in an entry. */
    private static final IntVector IOTA_SHIFTED = IntVector.fromArray(INTS, new int[] {0, 16, 32, 48, 64, 80, 96, 112}, 0);

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
        int evictions = 0;
        int n = at;
        int t = start;
        // No vector is carried from one iteration to the next: with a vector loop variable, C2 (JDK 17) boxed
        // one vector per iteration whenever the rarely taken branch below was compiled in (measured: 65 bytes
        // a group in a steady state where few tokens move).
        for (int upper = start + INTS.loopBound(end - start); t < upper; t += LANES) {
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
            // One reduction gives the change mask (bits 0-7), arrivals at EVICT (bits 8-11) and departures
            // (bits 12-15): a code is EVICT (3) when both its bits are set.
            int sum = LANE_BITS.add(nt.and(nt.lanewise(VectorOperators.LSHR, 1)).lanewise(VectorOperators.LSHL, 8))
                    .add(f.and(f.lanewise(VectorOperators.LSHR, 1)).lanewise(VectorOperators.LSHL, 12))
                    .reduceLanes(VectorOperators.ADD, changed);
            int mask = sum & 0xff;
            if (mask == 0) {
                continue;
            }
            bytes(nt).intoArray(levels, t);
            // entry = offset in the span << 4 | from << 2 | to, the changed lanes moved to the front
            IntVector entries = IOTA_SHIFTED.add((t - start) << 4).or(f.lanewise(VectorOperators.LSHL, 2)).or(nt)
                    .rearrange(COMPACT[mask]);
            ((ShortVector) entries.convertShape(VectorOperators.I2S, SHORTS, 0)).intoArray(changes, n);
            n += Integer.bitCount(mask);
            evictions += (sum >>> 8 & 0xf) - (sum >>> 12);
        }
        net += evictions;
        return closeScalar(levels, counts, birth, t, end, bornBy, finalLevel, cache, normal, low, start, changes, n);
    }

    private static ByteVector bytes(IntVector v) {
        return (ByteVector) v.convertShape(VectorOperators.I2B, BYTES, 0);
    }
}
