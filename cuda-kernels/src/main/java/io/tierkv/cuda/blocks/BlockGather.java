package io.tierkv.cuda.blocks;

/**
 * Packs scattered fixed-size blocks of a pool into one contiguous staging area ({@link #gather}) and
 * unpacks it back ({@link #scatter}), so that moving many small KV blocks between tiers is one large
 * copy. List entry {@code i} is pool block {@code blocks[i]}: pool bytes
 * {@code [blocks[i] * blockBytes, +blockBytes)}, staging bytes
 * {@code [stagingOffset + i * blockBytes, +blockBytes)}.
 *
 * @param <M> the memory it works on: {@code ByteBuffer} on the CPU, {@code DeviceBuffer} on the GPU
 */
public interface BlockGather<M> {

    /** A short name for logs and reports. */
    String name();

    /** Copies pool blocks {@code blocks[0..count)} into consecutive staging slots. */
    void gather(M pool, int[] blocks, int count, long blockBytes, M staging, long stagingOffset);

    /** Copies consecutive staging slots into pool blocks {@code blocks[0..count)}, which must be distinct. */
    void scatter(M staging, long stagingOffset, int[] blocks, int count, long blockBytes, M pool);

    /** Checks a gather or scatter's arguments against the two memories' sizes; throws naming the bad value. */
    static void check(long poolBytes, int[] blocks, int count, long blockBytes, long stagingBytes, long stagingOffset) {
        if (blockBytes <= 0) {
            throw new IllegalArgumentException("blockBytes must be > 0, was " + blockBytes);
        }
        if (count < 0 || count > blocks.length) {
            throw new IllegalArgumentException("count must be in [0, " + blocks.length + "], was " + count);
        }
        long poolBlocks = poolBytes / blockBytes;
        for (int i = 0; i < count; i++) {
            if (blocks[i] < 0 || blocks[i] >= poolBlocks) {
                throw new IllegalArgumentException("blocks[" + i + "] = " + blocks[i] + " is outside the pool of " + poolBlocks
                        + " blocks of " + blockBytes + " bytes");
            }
        }
        if (stagingOffset < 0 || stagingOffset > stagingBytes || (stagingBytes - stagingOffset) / blockBytes < count) {
            throw new IllegalArgumentException("staging of " + stagingBytes + " bytes cannot hold " + count + " blocks of "
                    + blockBytes + " bytes from offset " + stagingOffset);
        }
    }
}
