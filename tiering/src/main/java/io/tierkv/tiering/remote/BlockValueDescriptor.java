package io.tierkv.tiering.remote;

import io.tierkv.core.KvLayout;
import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixNamespace;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The value stored for one block, written down once. One value holds the block for all layers: a prefix
 * hit is only useful when every layer of the block is there, and one key per block keeps a prompt's lookup
 * at one GET per block, lets Redis evict a block whole (never layer 7 of it alone), and halves Redis's
 * per-key overhead relative to K and V apart ({@code layers} times fewer keys than one value per layer).
 * The price: loading cannot start layer 0's attention before the last layer arrives, which matters only if
 * loads are overlapped with compute layer by layer (LMCache's layerwise mode); TierKV loads before prefill.
 *
 * <pre>
 *  0       4       6       8                      24                     40       44       48
 *  +-------+-------+-------+----------------------+----------------------+--------+--------+---------------
 *  | magic |version| flags | namespace (16 bytes) | block hash (16 bytes)| length | crc32c | payload ...
 *  +-------+-------+-------+----------------------+----------------------+--------+--------+---------------
 *  magic 'TKVB'; all integers big-endian; namespace and block hash are the first 16 bytes of their SHA-256
 *  digests; length = payload bytes = layers * blockBytes; crc32c over bytes [0, 44) and the payload.
 *
 *  payload: layer 0 K (blockHalfBytes) | layer 0 V (blockHalfBytes) | layer 1 K | layer 1 V | ...
 *           each half (blockSize, kvHeads, headDim) of the layout's dtype, row-major: a slot's layout
 * </pre>
 *
 * A value that fails any check (magic, version, namespace, block hash, length, checksum) is a miss: stale
 * formats, another model's blocks under a colliding key and bit rot all read as absent, never as KV.
 */
public final class BlockValueDescriptor {
    /** {@code 'TKVB'}. */
    public static final int MAGIC = 0x544B5642;
    public static final short VERSION = 1;
    public static final int MAGIC_OFFSET = 0;
    public static final int VERSION_OFFSET = 4;
    public static final int FLAGS_OFFSET = 6;
    public static final int NAMESPACE_OFFSET = 8;
    public static final int ID_BYTES = 16;
    public static final int BLOCK_HASH_OFFSET = 24;
    public static final int LENGTH_OFFSET = 40;
    public static final int CRC_OFFSET = 44;
    public static final int HEADER_BYTES = 48;

    /** Why a value is not a block: every reason is a miss. */
    public enum Verdict {
        OK, TOO_SHORT, BAD_MAGIC, BAD_VERSION, OTHER_NAMESPACE, OTHER_BLOCK, BAD_LENGTH, BAD_CHECKSUM
    }

    private final PrefixNamespace namespace;
    private final KvLayout layout;
    private final int payloadBytes;

    public BlockValueDescriptor(PrefixNamespace namespace) {
        this.namespace = namespace;
        this.layout = namespace.layout();
        long bytes = (long) layout.layers() * layout.blockBytes();
        if (bytes > Integer.MAX_VALUE - HEADER_BYTES) {
            throw new IllegalArgumentException("a block of all layers takes " + bytes + " bytes, more than one value holds");
        }
        this.payloadBytes = (int) bytes;
    }

    /** Bytes of a whole value: header and payload. */
    public int valueBytes() {
        return HEADER_BYTES + payloadBytes;
    }

    public int payloadBytes() {
        return payloadBytes;
    }

    /** A value for {@code hash} whose payload is copied from logical block {@code block} of {@code memory}. */
    public byte[] encode(BlockHash hash, int block, BlockMemory memory) {
        byte[] v = new byte[valueBytes()];
        ByteBuffer h = ByteBuffer.wrap(v);
        h.putInt(MAGIC_OFFSET, MAGIC);
        h.putShort(VERSION_OFFSET, VERSION);
        h.putShort(FLAGS_OFFSET, (short) 0);
        namespace.copyTo(v, NAMESPACE_OFFSET, ID_BYTES);
        hash.copyTo(v, BLOCK_HASH_OFFSET, ID_BYTES);
        h.putInt(LENGTH_OFFSET, payloadBytes);
        memory.readBlock(block, layout.layers(), (int) layout.blockHalfBytes(), v, HEADER_BYTES); // fits: the payload does
        h.putInt(CRC_OFFSET, crc(v));
        return v;
    }

    /** Checks {@code value} (null = missing) as the value of {@code hash}. */
    public Verdict check(BlockHash hash, byte[] value) {
        if (value == null || value.length < HEADER_BYTES) {
            return Verdict.TOO_SHORT;
        }
        ByteBuffer h = ByteBuffer.wrap(value);
        if (h.getInt(MAGIC_OFFSET) != MAGIC) {
            return Verdict.BAD_MAGIC;
        }
        if (h.getShort(VERSION_OFFSET) != VERSION) {
            return Verdict.BAD_VERSION;
        }
        if (!namespace.matches(value, NAMESPACE_OFFSET, ID_BYTES)) {
            return Verdict.OTHER_NAMESPACE;
        }
        if (!hash.matches(value, BLOCK_HASH_OFFSET, ID_BYTES)) {
            return Verdict.OTHER_BLOCK;
        }
        if (h.getInt(LENGTH_OFFSET) != payloadBytes || value.length != HEADER_BYTES + payloadBytes) {
            return Verdict.BAD_LENGTH;
        }
        if (h.getInt(CRC_OFFSET) != crc(value)) {
            return Verdict.BAD_CHECKSUM;
        }
        return Verdict.OK;
    }

    /** Copies the payload of a checked value into logical block {@code block} of {@code memory}. */
    public void decode(byte[] value, int block, BlockMemory memory) {
        memory.writeBlock(block, layout.layers(), (int) layout.blockHalfBytes(), value, HEADER_BYTES); // fits: the payload does
    }

    private static int crc(byte[] v) {
        CRC32C c = new CRC32C();
        c.update(v, 0, CRC_OFFSET);
        c.update(v, HEADER_BYTES, v.length - HEADER_BYTES);
        return (int) c.getValue();
    }
}
