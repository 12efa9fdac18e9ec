package io.tierkv.tiering.remote;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixNamespace;
import org.agrona.BufferUtil;

import java.nio.ByteBuffer;
import java.util.Random;

/**
 * Off-heap K/V memory for {@code blocks} blocks of a layout, laid out as {@code (blocks, layers, 2, half)}
 * bytes, with a {@link BlockMemory} view; filled from a seed so that two processes can produce the same
 * bytes. Direct buffers: the JVM frees them.
 */
final class TestBlocks implements BlockMemory {
    /** 2 layers, 2 KV heads, head dim 8, f32, 4-token blocks: 256 bytes per half, 1 KiB per block. */
    static final KvLayout LAYOUT = new KvLayout(2, 2, 8, DType.F32, 4);
    static final PrefixNamespace NAMESPACE =
            PrefixNamespace.of(ModelFingerprint.ofDescription("remote-tier test model", DType.F32), LAYOUT);

    final KvLayout layout;
    final int blocks;
    final ByteBuffer buffer; // (blocks, layers, 2, blockHalfBytes) bytes
    private final long address;
    private final int half;

    TestBlocks(KvLayout layout, int blocks) {
        this.layout = layout;
        this.blocks = blocks;
        this.half = (int) layout.blockHalfBytes();
        this.buffer = ByteBuffer.allocateDirect(blocks * layout.layers() * 2 * half);
        this.address = BufferUtil.address(buffer);
    }

    static TestBlocks random(KvLayout layout, int blocks, long seed) {
        TestBlocks t = new TestBlocks(layout, blocks);
        byte[] b = new byte[t.buffer.capacity()];
        new Random(seed).nextBytes(b);
        t.buffer.put(0, b);
        return t;
    }

    /** A prompt of {@code n} token ids from {@code seed}. */
    static int[] tokens(int n, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(32_000);
        }
        return t;
    }

    @Override
    public long keyAddress(int block, int layer) {
        return address + offset(block, layer, 0);
    }

    @Override
    public long valueAddress(int block, int layer) {
        return address + offset(block, layer, 1);
    }

    private long offset(int block, int layer, int kv) {
        if (block < 0 || block >= blocks || layer < 0 || layer >= layout.layers()) {
            throw new IndexOutOfBoundsException("block " + block + " layer " + layer);
        }
        return ((long) (block * layout.layers() + layer) * 2 + kv) * half;
    }

    /** The bytes of block {@code block}, all layers. */
    byte[] block(int block) {
        byte[] out = new byte[layout.layers() * 2 * half];
        buffer.get(block * out.length, out);
        return out;
    }
}
