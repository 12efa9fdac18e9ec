package io.tierkv.cuda.blocks;

import java.nio.ByteBuffer;

/**
 * The CPU mode's gather/scatter: one absolute bulk {@code put} per block, which the JIT turns into a
 * memcpy (no Vector API needed: a copy is already as wide as the machine). Works on heap and direct
 * buffers; neither buffer's position or limit changes.
 */
public final class BufferBlockGather implements BlockGather<ByteBuffer> {

    @Override
    public String name() {
        return "java-bulk";
    }

    @Override
    public void gather(ByteBuffer pool, int[] blocks, int count, long blockBytes, ByteBuffer staging, long stagingOffset) {
        BlockGather.check(pool.capacity(), blocks, count, blockBytes, staging.capacity(), stagingOffset);
        int size = (int) blockBytes;
        for (int i = 0; i < count; i++) {
            staging.put((int) (stagingOffset + (long) i * size), pool, (int) ((long) blocks[i] * size), size);
        }
    }

    @Override
    public void scatter(ByteBuffer staging, long stagingOffset, int[] blocks, int count, long blockBytes, ByteBuffer pool) {
        BlockGather.check(pool.capacity(), blocks, count, blockBytes, staging.capacity(), stagingOffset);
        int size = (int) blockBytes;
        for (int i = 0; i < count; i++) {
            pool.put((int) ((long) blocks[i] * size), staging, (int) (stagingOffset + (long) i * size), size);
        }
    }
}
