package io.tierkv.cuda.blocks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The bulk gather/scatter against the byte-by-byte oracle, on random pools and block lists. */
class BlockGatherConformanceTest {

    /** Block sizes: 16-byte multiples (the kernel's vector path), odd sizes (its byte path), and more than one 16 KiB chunk. */
    static final long[] BLOCK_BYTES = {16, 48, 7, 1000, 16 * 1024 + 16, 40_000};

    @Test
    void bulk_gatherAndScatter_matchTheOracle() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (long blockBytes : BLOCK_BYTES) {
            int poolBlocks = 37;
            ByteBuffer pool = random(rnd, (int) (poolBlocks * blockBytes));
            int[] blocks = distinct(rnd, poolBlocks, 23);
            int count = 23;
            long offset = 5;
            ByteBuffer expected = ByteBuffer.allocate((int) (offset + count * blockBytes + 3));
            ByteBuffer actual = ByteBuffer.allocateDirect(expected.capacity());
            new SimpleBlockGather().gather(pool, blocks, count, blockBytes, expected, offset);
            new BufferBlockGather().gather(pool, blocks, count, blockBytes, actual, offset);
            assertEquals(expected.rewind(), actual.rewind(), "gather, blockBytes " + blockBytes);

            ByteBuffer poolA = random(new SplittableRandom(1), pool.capacity());
            ByteBuffer poolB = ByteBuffer.allocateDirect(pool.capacity()).put(poolA.duplicate().rewind()).rewind();
            new SimpleBlockGather().scatter(expected, offset, blocks, count, blockBytes, poolA);
            new BufferBlockGather().scatter(expected, offset, blocks, count, blockBytes, poolB);
            assertEquals(poolA.rewind(), poolB.rewind(), "scatter, blockBytes " + blockBytes);
        }
    }

    @Test
    void gatherThenScatter_intoAFreshPool_restoresTheListedBlocks() {
        SplittableRandom rnd = new SplittableRandom(3);
        long blockBytes = 64;
        ByteBuffer pool = random(rnd, 10 * 64);
        int[] blocks = {9, 0, 4};
        ByteBuffer staging = ByteBuffer.allocateDirect(3 * 64);
        BufferBlockGather g = new BufferBlockGather();
        g.gather(pool, blocks, 3, blockBytes, staging, 0);
        ByteBuffer fresh = ByteBuffer.allocate(10 * 64);
        g.scatter(staging, 0, blocks, 3, blockBytes, fresh);
        for (int b : blocks) {
            assertEquals(pool.slice(b * 64, 64), fresh.slice(b * 64, 64), "block " + b);
        }
        assertEquals(0, fresh.get(64), "block 1 was not listed and stays zero");
    }

    @Test
    void check_badIndexOrSmallStaging_namesTheValue() {
        ByteBuffer pool = ByteBuffer.allocate(4 * 16);
        ByteBuffer staging = ByteBuffer.allocate(2 * 16);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new BufferBlockGather().gather(pool, new int[] {0, 4}, 2, 16, staging, 0));
        assertTrue(e.getMessage().contains("blocks[1] = 4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BufferBlockGather().gather(pool, new int[] {0, 1}, 2, 16, staging, 1));
        assertTrue(e.getMessage().contains("cannot hold 2 blocks"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BufferBlockGather().gather(pool, new int[] {0}, 1, 0, staging, 0));
    }

    static ByteBuffer random(SplittableRandom rnd, int bytes) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            b[i] = (byte) rnd.nextInt(1, 256); // never zero, so a missed copy shows
        }
        return ByteBuffer.wrap(b);
    }

    static int[] distinct(SplittableRandom rnd, int poolBlocks, int count) {
        int[] all = new int[poolBlocks];
        for (int i = 0; i < poolBlocks; i++) {
            all[i] = i;
        }
        for (int i = poolBlocks - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return java.util.Arrays.copyOf(all, count);
    }
}
