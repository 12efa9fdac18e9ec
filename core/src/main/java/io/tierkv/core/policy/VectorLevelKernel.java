package io.tierkv.core.policy;

import io.tierkv.core.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link LevelKernel} with the Vector API, eight tokens at a time: counts and levels load as int lanes, the new
 * level is subtractions, arithmetic shifts and a clamp (no compare: C2 makes each masked operation a compare, a
 * masked load and a blend); the change mask comes from the old and new level bytes as two longs; the entries are
 * built in byte lanes, compacted by one byte shuffle per change mask (indices from a flat table of 256 x 8) and
 * widened straight into the output. No branch per group: one that did not change writes where the next change
 * goes (the branch mispredicted in the steady state). Measured in JMH's sample mode at 128k tokens x 32 layers
 * (2-core AMD EPYC, JDK 17, load 2.7-3.1, two runs): 2.63-2.71 ms, 1.61-1.64x a scan of the counts and levels,
 * with 81% of the tokens moving (the adversarial data), and 2.46-2.50 ms, 1.52-1.55x, in the steady state
 * (19% moving), where the previous kernel took 3.40 (2.31x) and 4.71 ms (2.85x). A masked vector reduction for
 * the change mask took 4.1-4.6 ms and the scalar loop writing 10-byte transitions about 50; 16 lanes were no
 * faster there (AVX-512 runs as two 256-bit halves), and {@code VectorMask.toLong} is no intrinsic in JDK 17.
 * Loaded only when {@code jdk.incubator.vector} is in the boot layer; never reference this class directly.
 */
final class VectorLevelKernel extends LevelKernel {
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_64;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_128;
    /** The eight level bytes read back as a long: a 64-bit long species (one lane) is not intrinsic in JDK 17. */
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_128;
    private static final int LANES = INTS.length();
    /** Eight level bytes as one little-endian long: byte {@code i} is lane {@code i}. */
    private static final VarHandle LEVEL_BYTES = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long LOW_BITS = 0x0101010101010101L;
    /** Times a long of 0/1 bytes: byte {@code i}'s bit lands on bit {@code 56 + i}, without carries. */
    private static final long GATHER = 0x0102040810204080L;
    /** (mask * LANES + i) the lane that goes to lane i when the lanes set in {@code mask} move to the front, in order. */
    private static final byte[] COMPACT = new byte[(1 << LANES) * LANES];
    /** (lane) {@code lane << 4}: a lane's offset within its group, in entry position. */
    private static final ByteVector IOTA_SHIFTED = ByteVector.fromArray(BYTES, new byte[] {0, 16, 32, 48, 64, 80, 96, 112}, 0);

    static {
        for (int mask = 0; mask < 1 << LANES; mask++) {
            int[] lanes = new int[LANES];
            int n = 0;
            for (int lane = 0; lane < LANES; lane++) {
                if ((mask & (1 << lane)) != 0) {
                    lanes[n++] = lane;
                }
            }
            for (int lane = 0; lane < LANES; lane++) {
                COMPACT[mask * LANES + lane] = (byte) lanes[lane];
            }
        }
    }

    @Override
    int close(byte[] levels, int[] counts, int start, int end, int finalLevel, int cache, int normal, int low,
              short[] changes, int at) {
        IntVector one = IntVector.broadcast(INTS, 1);
        IntVector minusOne = IntVector.broadcast(INTS, -1);
        IntVector evict = IntVector.broadcast(INTS, Level.EVICT_CODE);
        // c >= x as (x - 1 - c) >> 31, -1 or 0: no overflow for counts >= 0 and thresholds >= 1 (no compare, so
        // no mask: C2 turns each masked operation into a compare, a masked load and a blend)
        IntVector belowLow = IntVector.broadcast(INTS, low - 1);
        IntVector belowNormal = IntVector.broadcast(INTS, normal - 1);
        IntVector belowCache = IntVector.broadcast(INTS, cache - 1);
        IntVector finalLevels = IntVector.broadcast(INTS, finalLevel);
        int evictions = 0;
        int n = at;
        int t = start;
        // No vector is carried from one iteration to the next: with a vector loop variable, C2 (JDK 17) boxed
        // one vector per iteration whenever a rarely taken branch was compiled into the loop (measured: 65 bytes
        // a group in a steady state where few tokens move). The loop has no branch: a group without a change
        // writes its (unused) entries where the next change will go and does not advance n, which costs less than
        // the branch it saves mispredicts (half the time in the steady state).
        for (int upper = start + INTS.loopBound(end - start); t < upper; t += LANES) {
            IntVector c = IntVector.fromArray(INTS, counts, t);
            ByteVector fromBytes = ByteVector.fromArray(BYTES, levels, t);
            IntVector f = (IntVector) fromBytes.convertShape(VectorOperators.B2I, INTS, 0);
            IntVector earned = evict.add(belowLow.sub(c).lanewise(VectorOperators.ASHR, 31))
                    .add(belowNormal.sub(c).lanewise(VectorOperators.ASHR, 31))
                    .add(belowCache.sub(c).lanewise(VectorOperators.ASHR, 31));
            // one level toward the earned one, f + signum(earned - f), where judged (f < finalLevel: all ones)
            IntVector judged = f.sub(finalLevels).lanewise(VectorOperators.ASHR, 31);
            IntVector nt = f.add(earned.sub(f).max(minusOne).min(one).and(judged));
            // The change mask from the level bytes themselves: old and new as one long each (the old read from the
            // array, the new from the vector), a byte that differs sets its lane's bit (a multiply gathers the low
            // bit of each byte into the top byte).
            long before = (long) LEVEL_BYTES.get(levels, t);
            ByteVector toBytes = bytes(nt);
            toBytes.intoArray(levels, t);
            long after = ((LongVector) toBytes.reinterpretShape(LONGS, 0)).lane(0);
            long diff = before ^ after;
            int mask = (int) ((((diff | diff >>> 1) & LOW_BITS) * GATHER) >>> 56);
            // entry = offset in the span << 4 | from << 2 | to: lane << 4 | from << 2 | to fits a byte, so the
            // entries are built and compacted (one byte shuffle from a flat table) in byte lanes and widened after,
            // with the group's offset added as shorts
            ByteVector compact = ByteVector.fromArray(BYTES, COMPACT, mask * LANES)
                    .selectFrom(IOTA_SHIFTED.add(fromBytes.add(fromBytes).add(fromBytes.add(fromBytes))).add(toBytes));
            ((ShortVector) compact.convertShape(VectorOperators.B2S, SHORTS, 0)).add((short) ((t - start) << 4))
                    .intoArray(changes, n);
            n += Integer.bitCount(mask);
            // a code is EVICT (3) when both its bits are set; codes use a byte's two low bits only, so x & x >>> 1
            // has no other bit set
            evictions += Long.bitCount(after & after >>> 1) - Long.bitCount(before & before >>> 1);
        }
        net += evictions;
        return closeScalar(levels, counts, t, end, finalLevel, cache, normal, low, start, changes, n);
    }

    private static ByteVector bytes(IntVector v) {
        return (ByteVector) v.convertShape(VectorOperators.I2B, BYTES, 0);
    }
}
