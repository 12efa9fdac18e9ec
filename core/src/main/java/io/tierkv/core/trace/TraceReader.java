package io.tierkv.core.trace;

import static io.tierkv.core.trace.TraceDescriptor.*;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/**
 * Reads a trace file ({@link TraceDescriptor}) one step at a time through a fixed buffer, so a trace
 * of any length replays in constant memory. Everything is checked as it is read (magic, version,
 * header fields and CRC, each step's length, CRC, counts and positions, nothing after the last step),
 * and every failure is a {@link TraceFormatException} naming the byte offset where it starts.
 */
public final class TraceReader implements TraceSource {
    private static final int BUFFER_BYTES = 1 << 16;

    private final ReadableByteChannel channel;
    private final String name;
    private final CRC32 crc = new CRC32();
    private ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    /** Absolute file offset of {@code buf}'s index 0. */
    private long base;
    private boolean eof;
    private final TraceHeader header;
    private final long maxPayload;
    private int stepsRead;

    /** Reads the header from {@code channel}; {@code name} names the trace in errors. */
    public TraceReader(ReadableByteChannel channel, String name) throws IOException {
        this.channel = channel;
        this.name = name;
        buf.flip();
        this.header = readHeader();
        this.maxPayload = maxPayloadBytes(header.layers(), header.topK());
    }

    /** Opens a trace file and reads its header. */
    public static TraceReader open(Path file) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no such trace file");
        }
        try {
            return new TraceReader(ch, file.toString());
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Reads only the header of a trace file. */
    public static TraceHeader readHeader(Path file) throws IOException {
        try (TraceReader r = open(file)) {
            return r.header();
        }
    }

    @Override
    public TraceHeader header() {
        return header;
    }

    /** The byte offset of the next unread byte. */
    public long offset() {
        return base + buf.position();
    }

    /** Steps read so far. */
    public int stepsRead() {
        return stepsRead;
    }

    private TraceHeader readHeader() throws IOException {
        fill(FIXED_HEADER_BYTES);
        int start = buf.position();
        for (int i = 0; i < MAGIC.length && i < buf.remaining(); i++) {
            if (buf.get(start + i) != MAGIC[i]) {
                throw error(MAGIC_OFFSET, "not a TierKV trace (magic is not 'TKVT')");
            }
        }
        if (buf.remaining() < FIXED_HEADER_BYTES) {
            throw error(offset(), "truncated header: " + buf.remaining() + " bytes, a header needs at least " + headerLength(0));
        }
        int version = buf.getShort(start + VERSION_OFFSET);
        if (version != VERSION && version != VERSION_1) {
            throw error(VERSION_OFFSET, "unsupported trace version " + version + "; this reader knows versions " + VERSION_1
                    + " and " + VERSION);
        }
        int headerLength = Short.toUnsignedInt(buf.getShort(start + HEADER_LENGTH_OFFSET));
        int sourceLength = Short.toUnsignedInt(buf.getShort(start + SOURCE_LENGTH_OFFSET));
        if (sourceLength > MAX_SOURCE_BYTES || headerLength != TraceDescriptor.headerLength(sourceLength)) {
            throw error(HEADER_LENGTH_OFFSET, "header length " + headerLength + " does not fit a source text of " + sourceLength + " bytes");
        }
        fill(headerLength);
        if (buf.remaining() < headerLength) {
            throw error(base + buf.limit(), "truncated header: " + buf.remaining() + " of " + headerLength + " bytes");
        }
        crc.reset();
        crc.update(buf.array(), start, headerLength - CRC_BYTES);
        int stored = buf.getInt(start + headerLength - CRC_BYTES);
        if (stored != (int) crc.getValue()) {
            throw error(headerLength - CRC_BYTES, "header checksum mismatch (stored " + hex(stored) + ", computed "
                    + hex((int) crc.getValue()) + ")");
        }
        int dtypeCode = buf.get(start + DTYPE_OFFSET);
        DType dtype = dtypeOf(dtypeCode);
        if (dtype == null) {
            throw error(DTYPE_OFFSET, "unknown dtype code " + dtypeCode);
        }
        int encoding = buf.get(start + ENCODING_OFFSET);
        if (encoding != ENCODING_DELTA_VARINT) {
            throw error(ENCODING_OFFSET, "unknown position encoding " + encoding);
        }
        int reserved = Short.toUnsignedInt(buf.getShort(start + RESERVED_OFFSET));
        if (reserved != 0) {
            throw error(RESERVED_OFFSET, "reserved header field is " + reserved + ", must be 0");
        }
        int steps = buf.getInt(start + STEPS_OFFSET);
        if (steps == STEPS_UNKNOWN) {
            throw error(STEPS_OFFSET, "steps is -1: the writer was never closed, so the trace is incomplete");
        }
        String source = new String(buf.array(), start + SOURCE_OFFSET, sourceLength, StandardCharsets.UTF_8);
        TraceHeader h;
        try {
            KvLayout layout = new KvLayout(buf.getInt(start + LAYERS_OFFSET), buf.getInt(start + KV_HEADS_OFFSET),
                    buf.getInt(start + HEAD_DIM_OFFSET), dtype, buf.getInt(start + BLOCK_SIZE_OFFSET));
            h = new TraceHeader(layout, buf.getInt(start + TOP_K_OFFSET), buf.getInt(start + PROMPT_LENGTH_OFFSET), steps, source);
        } catch (IllegalArgumentException e) {
            throw error(LAYERS_OFFSET, "invalid header field: " + e.getMessage());
        }
        if (maxPayloadBytes(h.layers(), h.topK()) > Integer.MAX_VALUE / 2) {
            throw error(LAYERS_OFFSET, "layers x topK too large: " + h.layers() + " x " + h.topK());
        }
        checkFitsTheFile(h, headerLength);
        buf.position(start + headerLength);
        return version == VERSION_1 ? h : readPrefill(h);
    }

    /** The version-2 prefill record; memory grows only with the bytes actually read. */
    private TraceHeader readPrefill(TraceHeader h) throws IOException {
        long recordStart = offset();
        fill(MAX_VARINT_BYTES);
        int length = readVarint(buf.limit(), PREFILL, LENGTH, 0);
        long blocks = h.layout().blocksFor(h.promptLength());
        long max = (long) h.layers() * MAX_VARINT_BYTES * (1 + blocks);
        if (length < 0 || length > max) {
            throw error(recordStart, "prefill record length " + Integer.toUnsignedString(length) + " exceeds the " + max
                    + " bytes " + h.layers() + " layers of " + blocks + " prompt blocks can take");
        }
        long payloadStart = offset();
        fill(length + CRC_BYTES);
        if (buf.remaining() < length + CRC_BYTES) {
            throw error(payloadStart, "truncated: the prefill record needs " + (length + CRC_BYTES) + " bytes, the trace ends after "
                    + buf.remaining());
        }
        int p = buf.position();
        int end = p + length;
        crc.reset();
        crc.update(buf.array(), p, length);
        int stored = buf.getInt(end);
        if (stored != (int) crc.getValue()) {
            throw error(payloadStart, "prefill record checksum mismatch (stored " + hex(stored) + ", computed "
                    + hex((int) crc.getValue()) + ")");
        }
        int[][] counts = new int[h.layers()][];
        boolean any = false;
        for (int l = 0; l < h.layers(); l++) {
            long at = offset();
            int n = readVarint(end, PREFILL, l, COUNT);
            if (n != 0 && n != blocks) {
                throw error(at, "prefill layer " + l + " holds " + Integer.toUnsignedString(n) + " blocks; the prompt has " + blocks);
            }
            counts[l] = new int[n];
            for (int i = 0; i < n; i++) {
                at = offset();
                int c = readVarint(end, PREFILL, l, i);
                if (c < 0) {
                    throw error(at, "prefill layer " + l + " block " + i + " count " + Integer.toUnsignedString(c) + " is too large");
                }
                counts[l][i] = c;
            }
            any |= n > 0;
        }
        if (buf.position() != end) {
            throw error(offset(), "prefill record has " + (end - buf.position()) + " bytes left after the last layer");
        }
        buf.position(end + CRC_BYTES);
        return any ? h.withPrefill(counts) : h;
    }

    /**
     * Bounds what a reader's caller allocates for this header ({@link TraceHeader#newStep()}: layers x topK
     * ints): at most {@link TraceDescriptor#MAX_STEP_POSITIONS} in all, and, for a trace with steps, no more
     * layers than one step record of the bytes after the header can hold (a record takes at least
     * {@link #minRecordBytes} bytes), so a small corrupt file cannot ask for a large buffer.
     */
    private void checkFitsTheFile(TraceHeader h, int headerLength) throws IOException {
        if (h.steps() > 0 && channel instanceof SeekableByteChannel seekable) {
            long after = seekable.size() - headerLength;
            if (minRecordBytes(h.layers()) > after) {
                throw error(LAYERS_OFFSET, "the header says " + h.layers() + " layers, but a step of them takes at least "
                        + minRecordBytes(h.layers()) + " bytes and only " + after + " bytes follow the header");
            }
        }
        if ((long) h.layers() * h.topK() > MAX_STEP_POSITIONS) {
            throw error(LAYERS_OFFSET, "layers x topK = " + h.layers() + " x " + h.topK() + " positions per step is more than the "
                    + MAX_STEP_POSITIONS + " a reader allocates");
        }
    }

    /** The shortest step record: a 1-byte length, a 1-byte count per layer, the CRC. */
    private static long minRecordBytes(int layers) {
        return 1L + layers + CRC_BYTES;
    }

    @Override
    public boolean next(TraceStep step) throws IOException {
        if (step.layers() != header.layers() || step.topK() < header.topK()) {
            throw new IllegalArgumentException("step buffer of " + step.layers() + " layers x " + step.topK()
                    + " does not fit the trace's " + header.layers() + " x " + header.topK());
        }
        long recordStart = offset();
        fill(MAX_VARINT_BYTES);
        if (stepsRead == header.steps()) {
            if (buf.hasRemaining()) {
                throw error(recordStart, "trailing bytes after the last of " + header.steps() + " steps");
            }
            return false;
        }
        if (!buf.hasRemaining()) {
            throw error(recordStart, "truncated: the trace ends after " + stepsRead + " of " + header.steps() + " steps");
        }
        // unsigned: a varint of 2^31 or more (ff ff ff ff 0f is -1 as an int) is a length past any step
        long length = Integer.toUnsignedLong(readVarint(buf.limit(), stepsRead, LENGTH, 0));
        if (length > maxPayload) {
            throw error(recordStart, "step " + stepsRead + " record length " + length + " exceeds the " + maxPayload
                    + " bytes " + header.layers() + " layers of top-" + header.topK() + " can take");
        }
        long payloadStart = offset();
        int payload = (int) length; // at most maxPayload, itself at most Integer.MAX_VALUE / 2
        fill(payload + CRC_BYTES);
        if (buf.remaining() < payload + CRC_BYTES) {
            throw error(payloadStart, "truncated: step " + stepsRead + " needs " + (payload + CRC_BYTES) + " bytes, the trace ends after "
                    + buf.remaining());
        }
        int p = buf.position();
        crc.reset();
        crc.update(buf.array(), p, payload);
        int stored = buf.getInt(p + payload);
        if (stored != (int) crc.getValue()) {
            throw error(payloadStart, "step " + stepsRead + " checksum mismatch (stored " + hex(stored) + ", computed "
                    + hex((int) crc.getValue()) + ")");
        }
        decode(step, p + payload);
        buf.position(p + payload + CRC_BYTES);
        stepsRead++;
        return true;
    }

    private void decode(TraceStep step, int end) throws TraceFormatException {
        int s = stepsRead;
        int maxPosition = header.promptLength() + s;
        for (int l = 0; l < header.layers(); l++) {
            long at = offset();
            long n = Integer.toUnsignedLong(readVarint(end, s, l, COUNT)); // unsigned, as the format says: -1 is 2^32 - 1
            if (n > header.topK()) {
                throw error(at, "step " + s + " layer " + l + " holds " + n + " positions, more than topK " + header.topK());
            }
            int[] row = step.positions(l);
            long previous = -1;
            for (int i = 0; i < n; i++) {
                at = offset();
                long position = previous + 1 + Integer.toUnsignedLong(readVarint(end, s, l, i));
                if (position > maxPosition) {
                    throw error(at, "step " + s + " layer " + l + " position " + position + " is past the sequence (at most "
                            + maxPosition + ")");
                }
                row[i] = (int) position;
                previous = position;
            }
            step.setCount(l, (int) n);
        }
        if (buf.position() != end) {
            throw error(offset(), "step " + s + " payload has " + (end - buf.position()) + " bytes left after the last layer");
        }
        step.setStep(s);
    }

    /** {@code layer} of a step's record length in {@link #readVarint}. */
    private static final int LENGTH = -1;
    /** {@code index} of a layer's position count in {@link #readVarint}. */
    private static final int COUNT = -1;

    /**
     * Reads a varint that must end before buffer index {@code end}. Which field it is (step, layer, and
     * position index, or {@link #LENGTH} / {@link #COUNT}) only goes into an error message, built
     * only on error: this runs for every position.
     */
    private int readVarint(int end, int step, int layer, int index) throws TraceFormatException {
        long start = offset();
        int value = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            if (buf.position() >= end) {
                throw error(start, field(step, layer, index) + ": varint runs past the end of its record");
            }
            int b = buf.get();
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                if (shift == 28 && (b & 0x70) != 0) {
                    break;
                }
                return value;
            }
        }
        throw error(start, field(step, layer, index) + ": malformed varint (more than 32 bits)");
    }

    /** {@code step} of the prefill record in {@link #readVarint}. */
    private static final int PREFILL = -2;

    private static String field(int step, int layer, int index) {
        if (step == PREFILL) {
            return "prefill record" + (layer == LENGTH ? " length" : " layer " + layer + (index == COUNT ? " count" : " block " + index));
        }
        if (layer == LENGTH) {
            return "step " + step + " record length";
        }
        return "step " + step + " layer " + layer + (index == COUNT ? " count" : " position " + index);
    }

    /** Tries to have at least {@code n} bytes between position and limit; fewer only at end of file. */
    private void fill(int n) throws IOException {
        if (buf.remaining() >= n || eof) {
            return;
        }
        if (n > buf.capacity()) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(n, buf.capacity() * 2)).order(ByteOrder.LITTLE_ENDIAN);
            base += buf.position();
            bigger.put(buf);
            buf = bigger;
        } else {
            base += buf.position();
            buf.compact();
        }
        while (buf.position() < n) {
            int r = channel.read(buf);
            if (r < 0) {
                eof = true;
                break;
            }
        }
        buf.flip();
    }

    private TraceFormatException error(long offset, String detail) {
        return new TraceFormatException(name, offset, detail);
    }

    private static String hex(int v) {
        return String.format("0x%08x", v);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
