package io.tierkv.core.trace;

import static io.tierkv.core.trace.TraceDescriptor.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/**
 * Writes a trace file ({@link TraceDescriptor}) step by step. The header goes out first with
 * {@code steps = -1}; {@link #close()} patches in the number of steps written, so a trace whose writer
 * died is recognisably incomplete. Every step is checked before it is written: its index follows the
 * last one, each layer holds at most {@code topK} strictly ascending positions, none past the sequence.
 */
public final class TraceWriter implements AutoCloseable {
    private final FileChannel channel;
    private final Path file;
    private TraceHeader header;
    private boolean prefillWritten;
    private final byte[] source;
    /** Payload of the step being encoded, little-endian, sized for the worst case. */
    private final ByteBuffer payload;
    /** Output staging buffer, room for at least one whole step record. */
    private final ByteBuffer out;
    private final CRC32 crc = new CRC32();
    private int written;
    private boolean closed;

    private TraceWriter(FileChannel channel, Path file, TraceHeader header) throws IOException {
        this.channel = channel;
        this.file = file;
        this.header = header;
        this.source = header.source().getBytes(StandardCharsets.UTF_8);
        long max = maxPayloadBytes(header.layers(), header.topK());
        if (max > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("layers x topK too large for one step record: " + header.layers() + " x " + header.topK());
        }
        this.payload = ByteBuffer.allocate((int) max).order(ByteOrder.LITTLE_ENDIAN);
        int record = (int) max + MAX_VARINT_BYTES + CRC_BYTES;
        this.out = ByteBuffer.allocate(Math.max(1 << 16, record)).order(ByteOrder.LITTLE_ENDIAN);
        channel.write(headerBytes(STEPS_UNKNOWN));
    }

    /**
     * Sets the prompt's own attention per prompt block (see {@link TraceHeader#prefill()}); only before the first
     * step, since the prefill record precedes the steps.
     */
    public void prefill(int[][] counts) {
        if (prefillWritten) {
            throw new IllegalStateException("trace " + file + ": the prefill record was already written");
        }
        header = header.withPrefill(counts);
    }

    /** The version-2 prefill record: per layer the prompt blocks' counts, or none. */
    private void writePrefill() throws IOException {
        prefillWritten = true;
        long blocks = header.layout().blocksFor(header.promptLength());
        long max = (long) header.layers() * MAX_VARINT_BYTES * (1 + (header.hasPrefill() ? blocks : 0));
        if (max > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("prefill record too large: " + header.layers() + " layers x " + blocks + " blocks");
        }
        ByteBuffer record = ByteBuffer.allocate((int) max).order(ByteOrder.LITTLE_ENDIAN);
        for (int l = 0; l < header.layers(); l++) {
            int[] counts = header.prefillCounts(l);
            putVarint(record, counts.length);
            for (int c : counts) {
                putVarint(record, c);
            }
        }
        crc.reset();
        crc.update(record.array(), 0, record.position());
        ByteBuffer framed = ByteBuffer.allocate(MAX_VARINT_BYTES + record.position() + CRC_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        putVarint(framed, record.position());
        framed.put(record.array(), 0, record.position());
        framed.putInt((int) crc.getValue());
        framed.flip();
        while (framed.hasRemaining()) {
            channel.write(framed);
        }
    }

    /**
     * Creates (or truncates) {@code file} and writes the header. {@code header.steps()} may be
     * {@link TraceDescriptor#STEPS_UNKNOWN}; otherwise {@link #close()} checks that many were written.
     */
    public static TraceWriter create(Path file, TraceHeader header) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        try {
            return new TraceWriter(ch, file, header);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Writes every step of {@code source} to {@code file}; returns the steps written. */
    public static int copy(TraceSource source, Path file) throws IOException {
        TraceStep step = source.header().newStep();
        try (TraceWriter w = create(file, source.header())) {
            while (source.next(step)) {
                w.write(step);
            }
            return w.steps();
        }
    }

    public TraceHeader header() {
        return header;
    }

    /** Steps written so far. */
    public int steps() {
        return written;
    }

    /** Appends one step; its {@link TraceStep#step()} must be the number of steps written so far. */
    public void write(TraceStep step) throws IOException {
        if (closed) {
            throw new IllegalStateException("trace " + file + " is closed");
        }
        if (step.layers() != header.layers()) {
            throw new IllegalArgumentException("step has " + step.layers() + " layers, the trace " + header.layers());
        }
        if (step.step() != written) {
            throw new IllegalArgumentException("step index " + step.step() + " but " + written + " steps were written");
        }
        if (header.steps() != STEPS_UNKNOWN && written >= header.steps()) {
            throw new IllegalArgumentException("the header promises " + header.steps() + " steps; step " + written + " is one too many");
        }
        if (!prefillWritten) {
            writePrefill();
        }
        encode(step);
        crc.reset();
        crc.update(payload.array(), 0, payload.position());
        int length = payload.position();
        ensureRoom(MAX_VARINT_BYTES + length + CRC_BYTES);
        putVarint(out, length);
        out.put(payload.array(), 0, length);
        out.putInt((int) crc.getValue());
        written++;
    }

    private void encode(TraceStep step) {
        payload.clear();
        int maxPosition = header.promptLength() + step.step();
        for (int l = 0; l < header.layers(); l++) {
            int n = step.count(l);
            if (n > header.topK()) {
                throw new IllegalArgumentException("step " + step.step() + " layer " + l + " holds " + n + " positions, topK is " + header.topK());
            }
            int[] p = step.positions(l);
            putVarint(payload, n);
            int previous = -1;
            for (int i = 0; i < n; i++) {
                if (p[i] <= previous || p[i] > maxPosition) {
                    throw new IllegalArgumentException("step " + step.step() + " layer " + l + ": position " + p[i] + " at index " + i
                            + " is not strictly ascending within [0, " + maxPosition + "]");
                }
                putVarint(payload, p[i] - previous - 1);
                previous = p[i];
            }
        }
    }

    private void ensureRoom(int bytes) throws IOException {
        if (out.remaining() < bytes) {
            flush();
        }
    }

    private void flush() throws IOException {
        out.flip();
        while (out.hasRemaining()) {
            channel.write(out);
        }
        out.clear();
    }

    static void putVarint(ByteBuffer b, int value) {
        while ((value & ~0x7F) != 0) {
            b.put((byte) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        b.put((byte) value);
    }

    private ByteBuffer headerBytes(int steps) {
        ByteBuffer h = ByteBuffer.allocate(headerLength(source.length)).order(ByteOrder.LITTLE_ENDIAN);
        h.put(MAGIC);
        h.putShort(VERSION);
        h.putShort((short) headerLength(source.length));
        h.putInt(header.layout().layers());
        h.putInt(header.layout().kvHeads());
        h.putInt(header.layout().headDim());
        h.put(dtypeCode(header.layout().dtype()));
        h.put(ENCODING_DELTA_VARINT);
        h.putShort((short) 0);
        h.putInt(header.layout().blockSize());
        h.putInt(header.topK());
        h.putInt(header.promptLength());
        h.putInt(steps);
        h.putShort((short) source.length);
        h.put(source);
        CRC32 c = new CRC32();
        c.update(h.array(), 0, h.position());
        h.putInt((int) c.getValue());
        h.flip();
        return h;
    }

    /** Flushes, patches the step count into the header and closes the file. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (!prefillWritten) {
                writePrefill();
            }
            flush();
            ByteBuffer h = headerBytes(written);
            while (h.hasRemaining()) {
                channel.write(h, h.position());
            }
            if (header.steps() != STEPS_UNKNOWN && header.steps() != written) {
                throw new IOException("trace " + file + ": the header promised " + header.steps() + " steps but " + written + " were written");
            }
        } finally {
            channel.close();
        }
    }
}
