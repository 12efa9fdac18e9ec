package io.tierkv.core.trace;

import io.tierkv.core.DType;

/**
 * The binary trace format, written down once. All integers are little-endian; {@code varint} is
 * unsigned LEB128 (7 bits per byte, low bits first, high bit set on every byte but the last, at most
 * 5 bytes for an int).
 *
 * <pre>
 *  Header (42 + sourceLength + 4 bytes)
 *   0                   4         6         8
 *   +-------------------+---------+---------+
 *   | magic 'T''K''V''T'| version | hdrLen  |   hdrLen: bytes of the whole header, CRC included
 *   +-------------------+---------+---------+
 *   8  layers (int32)   12 kvHeads (int32)   16 headDim (int32)
 *   20 dtype (u8: 0 F32, 1 F16, 2 BF16)      21 encoding (u8: 1 = delta varint)   22 reserved (u16 = 0)
 *   24 blockSize (int32) 28 topK (int32)     32 promptLength (int32)
 *   36 steps (int32, -1 while a writer is open; patched on close)
 *   40 sourceLength (u16)  42 source (UTF-8, what produced the trace: "synth seed=1 ...", a model)
 *   42 + sourceLength      CRC32 of bytes [0, 42 + sourceLength) (int32)
 *
 *  Version 2 only: one prefill record, framed like a step record (length varint, payload, CRC32):
 *   for each layer 0 .. layers-1: n varint (0, or the prompt's block count), then n count varints:
 *   how many top-k positions of the prompt's own last queries fell in each prompt block
 *
 *  Then {@code steps} step records, one per generated token, nothing after the last:
 *   +----------------------+-----------------------------------------------+---------------+
 *   | payloadLength varint | payload: for each layer 0 .. layers-1:        | CRC32 (int32) |
 *   |                      |   n varint (0 &lt;= n &lt;= topK)                   | of payload    |
 *   |                      |   p0 varint, then (p[i] - p[i-1] - 1) varints |               |
 *   +----------------------+-----------------------------------------------+---------------+
 * </pre>
 *
 * <p>Positions refer to the growing sequence: the prompt holds positions {@code 0 .. promptLength-1};
 * generated token {@code s} (0-based) sits at {@code promptLength + s} and its query attends to keys
 * {@code 0 .. promptLength + s}, so every position of step {@code s} is at most
 * {@code promptLength + s}. Positions of one layer are strictly ascending, hence the gap encoding.
 *
 * <p>Size: a gap costs 1 byte below 128 and 2 below 16384, so a step of 32 layers with k = 8 takes
 * about 0.5 KiB (about 2 bytes a position, against 4 for fixed int32 and 1.2 KiB a step with counts).
 * The per-step CRC turns a flipped bit into an error naming the step's offset instead of a silently
 * different trace.
 */
public final class TraceDescriptor {
    /** "TKVT" as the first four bytes of the file. */
    public static final byte[] MAGIC = {'T', 'K', 'V', 'T'};
    /** The version this code writes; it reads this one and {@link #VERSION_1}. */
    public static final short VERSION = 2;
    /** The first version: no prefill record. */
    public static final short VERSION_1 = 1;
    /** Positions as a first varint and ascending gaps. */
    public static final byte ENCODING_DELTA_VARINT = 1;

    public static final int MAGIC_OFFSET = 0;
    public static final int VERSION_OFFSET = 4;
    public static final int HEADER_LENGTH_OFFSET = 6;
    public static final int LAYERS_OFFSET = 8;
    public static final int KV_HEADS_OFFSET = 12;
    public static final int HEAD_DIM_OFFSET = 16;
    public static final int DTYPE_OFFSET = 20;
    public static final int ENCODING_OFFSET = 21;
    public static final int RESERVED_OFFSET = 22;
    public static final int BLOCK_SIZE_OFFSET = 24;
    public static final int TOP_K_OFFSET = 28;
    public static final int PROMPT_LENGTH_OFFSET = 32;
    public static final int STEPS_OFFSET = 36;
    public static final int SOURCE_LENGTH_OFFSET = 40;
    public static final int SOURCE_OFFSET = 42;
    /** Bytes of the header before the source text. */
    public static final int FIXED_HEADER_BYTES = SOURCE_OFFSET;
    /** Bytes of the CRC that closes the header and every step. */
    public static final int CRC_BYTES = 4;
    /** The longest source text in bytes. */
    public static final int MAX_SOURCE_BYTES = 1024;
    /** {@code steps} of a trace whose writer was never closed. */
    public static final int STEPS_UNKNOWN = -1;
    /**
     * The most positions one step of a trace may hold (layers x topK): what a reader allocates for a step
     * (64 MiB of ints), whatever a corrupt header says.
     */
    public static final int MAX_STEP_POSITIONS = 1 << 24;
    /** Bytes of the longest varint of an int. */
    public static final int MAX_VARINT_BYTES = 5;

    private TraceDescriptor() {
    }

    /** The header's length for a source text of {@code sourceBytes} UTF-8 bytes. */
    public static int headerLength(int sourceBytes) {
        return FIXED_HEADER_BYTES + sourceBytes + CRC_BYTES;
    }

    /** Bytes of the prefill record of a trace without prefill counts, for fewer than 128 layers. */
    public static int emptyPrefillBytes(int layers) {
        return varintBytes(layers) + layers + CRC_BYTES;
    }

    /** The most payload bytes a step of {@code layers} layers and {@code topK} positions can take. */
    public static long maxPayloadBytes(int layers, int topK) {
        return (long) layers * MAX_VARINT_BYTES * (1L + topK);
    }

    /** The dtype's code in the header. */
    public static byte dtypeCode(DType dtype) {
        switch (dtype) {
            case F32: return 0;
            case F16: return 1;
            case BF16: return 2;
            default: throw new IllegalArgumentException("dtype " + dtype + " has no trace code");
        }
    }

    /** The dtype of a header code, or null if unknown. */
    public static DType dtypeOf(int code) {
        switch (code) {
            case 0: return DType.F32;
            case 1: return DType.F16;
            case 2: return DType.BF16;
            default: return null;
        }
    }

    /** Bytes the varint of {@code value} takes. */
    public static int varintBytes(int value) {
        int n = 1;
        while ((value & ~0x7F) != 0) {
            value >>>= 7;
            n++;
        }
        return n;
    }
}
