package io.tierkv.cuda.blocks;

import java.nio.ByteBuffer;

/** The oracle: byte by byte, absolute indices, nothing clever. */
public final class SimpleBlockGather implements BlockGather<ByteBuffer> {

    @Override
    public String name() {
        return "java-simple";
    }

    @Override
    public void gather(ByteBuffer pool, int[] blocks, int count, long blockBytes, ByteBuffer staging, long stagingOffset) {
        BlockGather.check(pool.capacity(), blocks, count, blockBytes, staging.capacity(), stagingOffset);
        for (int i = 0; i < count; i++) {
            for (long j = 0; j < blockBytes; j++) {
                staging.put((int) (stagingOffset + i * blockBytes + j), pool.get((int) (blocks[i] * blockBytes + j)));
            }
        }
    }

    @Override
    public void scatter(ByteBuffer staging, long stagingOffset, int[] blocks, int count, long blockBytes, ByteBuffer pool) {
        BlockGather.check(pool.capacity(), blocks, count, blockBytes, staging.capacity(), stagingOffset);
        for (int i = 0; i < count; i++) {
            for (long j = 0; j < blockBytes; j++) {
                pool.put((int) (blocks[i] * blockBytes + j), staging.get((int) (stagingOffset + i * blockBytes + j)));
            }
        }
    }
}
