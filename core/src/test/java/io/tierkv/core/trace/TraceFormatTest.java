package io.tierkv.core.trace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceFormatTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 4, 64, DType.BF16, 16);

    @TempDir
    Path dir;

    /** Two layers, k = 3, prompt of 5: step 0 sees keys 0..5, step 1 keys 0..6. */
    private Path writeTiny() throws IOException {
        Path file = dir.resolve("tiny.tkvt");
        TraceHeader header = new TraceHeader(LAYOUT, 3, 5, TraceDescriptor.STEPS_UNKNOWN, "hand-written");
        TraceStep step = header.newStep();
        try (TraceWriter w = TraceWriter.create(file, header)) {
            step.setStep(0);
            step.set(0, new int[] {0, 3, 5}, 3);
            step.set(1, new int[] {2}, 1);
            w.write(step);
            step.setStep(1);
            step.set(0, new int[] {0, 1, 6}, 3);
            step.set(1, new int[] {}, 0);
            w.write(step);
        }
        return file;
    }

    @Test
    void roundTrip_handWritten_readsBackEveryPositionAndHeaderField() throws IOException {
        Path file = writeTiny();
        try (TraceReader r = TraceReader.open(file)) {
            TraceHeader h = r.header();
            assertEquals(LAYOUT, h.layout());
            assertEquals(3, h.topK());
            assertEquals(5, h.promptLength());
            assertEquals(2, h.steps(), "close() patches the step count");
            assertEquals("hand-written", h.source());
            TraceStep s = h.newStep();
            assertTrue(r.next(s));
            assertEquals(0, s.step());
            assertArrayEquals(new int[] {0, 3, 5}, s.toArray(0));
            assertArrayEquals(new int[] {2}, s.toArray(1));
            assertTrue(r.next(s));
            assertEquals(1, s.step());
            assertArrayEquals(new int[] {0, 1, 6}, s.toArray(0));
            assertArrayEquals(new int[] {}, s.toArray(1));
            assertFalse(r.next(s));
            assertEquals(Files.size(file), r.offset());
        }
    }

    @Test
    void roundTrip_synthetic_equalsTheGenerator() throws IOException {
        SyntheticTraceConfig config = SyntheticTraceConfig.defaults(600, 50, 7)
                .withLayout(new KvLayout(3, 8, 64, DType.F16, 16));
        Path file = dir.resolve("synth.tkvt");
        SyntheticTrace.write(config, file);
        try (TraceReader r = TraceReader.open(file); SyntheticTrace g = new SyntheticTrace(config)) {
            assertEquals(g.header(), r.header());
            TraceStep a = g.header().newStep();
            TraceStep b = r.header().newStep();
            int steps = 0;
            while (g.next(a)) {
                assertTrue(r.next(b));
                for (int l = 0; l < 3; l++) {
                    assertArrayEquals(a.toArray(l), b.toArray(l), "step " + steps + " layer " + l);
                }
                steps++;
            }
            assertFalse(r.next(b));
            assertEquals(50, steps);
        }
    }

    @Test
    void truncated_midStep_namesTheStepAndOffset() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        int cut = bytes.length - 3;
        Files.write(file, Arrays.copyOf(bytes, cut));
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertTrue(e.getMessage().contains("truncated: step 1"), e.getMessage());
        assertTrue(e.getMessage().contains("byte offset " + e.offset()), e.getMessage());
        assertTrue(e.offset() > 0 && e.offset() < cut, "offset " + e.offset());
    }

    @Test
    void truncated_betweenSteps_saysHowManyStepsWereRead() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        int header = TraceDescriptor.headerLength("hand-written".length()) + TraceDescriptor.emptyPrefillBytes(LAYOUT.layers());
        int firstStep = 1 + payloadLength(bytes, header) + 4;
        Files.write(file, Arrays.copyOf(bytes, header + firstStep));
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(header + firstStep, e.offset());
        assertTrue(e.getMessage().contains("after 1 of 2 steps"), e.getMessage());
    }

    @Test
    void corrupt_flippedPositionBit_isAChecksumMismatchAtTheStep() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        int header = TraceDescriptor.headerLength("hand-written".length()) + TraceDescriptor.emptyPrefillBytes(LAYOUT.layers());
        bytes[header + 3] ^= 0x01;
        Files.write(file, bytes);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(header + 1, e.offset(), "the payload of step 0 starts after its 1-byte length");
        assertTrue(e.getMessage().contains("step 0 checksum mismatch"), e.getMessage());
    }

    @Test
    void corrupt_badMagic_andVersion_andHeaderChecksum() throws IOException {
        Path file = writeTiny();
        byte[] good = Files.readAllBytes(file);

        byte[] bytes = good.clone();
        bytes[0] = 'X';
        Files.write(file, bytes);
        TraceFormatException magic = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(0, magic.offset());
        assertTrue(magic.getMessage().contains("not a TierKV trace"), magic.getMessage());

        bytes = good.clone();
        bytes[TraceDescriptor.VERSION_OFFSET] = 9;
        Files.write(file, bytes);
        TraceFormatException version = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(TraceDescriptor.VERSION_OFFSET, version.offset());
        assertTrue(version.getMessage().contains("unsupported trace version 9"), version.getMessage());

        bytes = good.clone();
        bytes[TraceDescriptor.PROMPT_LENGTH_OFFSET] = 99;
        Files.write(file, bytes);
        TraceFormatException crc = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertTrue(crc.getMessage().contains("header checksum mismatch"), crc.getMessage());
    }

    @Test
    void corrupt_positionPastTheSequence_isNamedEvenWithAValidChecksum() throws IOException {
        Path file = dir.resolve("bad.tkvt");
        // A hand-built step whose single position 9 is past step 0's last key (prompt 5 -> at most 5).
        TraceHeader header = new TraceHeader(new KvLayout(1, 1, 8, DType.F32, 4), 2, 5, 1, "");
        byte[] head;
        Path ok = dir.resolve("ok.tkvt");
        try (TraceWriter w = TraceWriter.create(ok, header)) {
            TraceStep s = header.newStep();
            s.setStep(0);
            s.set(0, new int[] {4}, 1);
            w.write(s);
        }
        head = Arrays.copyOf(Files.readAllBytes(ok), TraceDescriptor.headerLength(0) + TraceDescriptor.emptyPrefillBytes(1));
        ByteBuffer payload = ByteBuffer.allocate(2);
        payload.put((byte) 1).put((byte) 9);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(payload.array());
        ByteBuffer record = ByteBuffer.allocate(1 + 2 + 4).order(ByteOrder.LITTLE_ENDIAN);
        record.put((byte) 2).put(payload.array()).putInt((int) crc.getValue());
        byte[] all = Arrays.copyOf(head, head.length + record.capacity());
        System.arraycopy(record.array(), 0, all, head.length, record.capacity());
        Files.write(file, all);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(head.length + 2, e.offset(), "offset of the position's varint");
        assertTrue(e.getMessage().contains("position 9 is past the sequence (at most 5)"), e.getMessage());
    }

    @Test
    void corrupt_overlongVarint_isMalformedAtItsOffset() throws IOException {
        Path ok = dir.resolve("ok.tkvt");
        TraceHeader header = new TraceHeader(new KvLayout(1, 1, 8, DType.F32, 4), 2, 5, 1, "");
        try (TraceWriter w = TraceWriter.create(ok, header)) {
            TraceStep s = header.newStep();
            s.setStep(0);
            s.set(0, new int[] {4}, 1);
            w.write(s);
        }
        byte[] head = Arrays.copyOf(Files.readAllBytes(ok), TraceDescriptor.headerLength(0) + TraceDescriptor.emptyPrefillBytes(1));
        // The layer's count as a 6-byte varint: valid CRC, malformed number.
        byte[] payload = {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x01};
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(payload);
        ByteBuffer record = ByteBuffer.allocate(1 + payload.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        record.put((byte) payload.length).put(payload).putInt((int) crc.getValue());
        byte[] all = Arrays.copyOf(head, head.length + record.capacity());
        System.arraycopy(record.array(), 0, all, head.length, record.capacity());
        Path file = dir.resolve("varint.tkvt");
        Files.write(file, all);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(head.length + 1, e.offset());
        assertTrue(e.getMessage().contains("step 0 layer 0 count: malformed varint"), e.getMessage());
    }

    @Test
    void trailingBytes_afterTheLastStep_areAnError() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length + 1));
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(bytes.length, e.offset());
        assertTrue(e.getMessage().contains("trailing bytes"), e.getMessage());
    }

    @Test
    void unclosedWriter_isRecognisedAsIncomplete() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        // What the file looks like before close(): steps = -1 (header CRC recomputed accordingly).
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(TraceDescriptor.STEPS_OFFSET, -1);
        int hl = TraceDescriptor.headerLength("hand-written".length());
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(bytes, 0, hl - 4);
        b.putInt(hl - 4, (int) crc.getValue());
        Files.write(file, bytes);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(TraceDescriptor.STEPS_OFFSET, e.offset());
        assertTrue(e.getMessage().contains("never closed"), e.getMessage());
    }

    @Test
    void writer_rejectsUnsortedOrFuturePositions_andWrongStepIndex() throws IOException {
        TraceHeader header = new TraceHeader(LAYOUT, 3, 5, TraceDescriptor.STEPS_UNKNOWN, "");
        try (TraceWriter w = TraceWriter.create(dir.resolve("w.tkvt"), header)) {
            TraceStep s = header.newStep();
            s.setStep(0);
            s.set(0, new int[] {3, 2}, 2);
            IllegalArgumentException unsorted = assertThrows(IllegalArgumentException.class, () -> w.write(s));
            assertTrue(unsorted.getMessage().contains("not strictly ascending"), unsorted.getMessage());
            s.set(0, new int[] {6}, 1);
            assertThrows(IllegalArgumentException.class, () -> w.write(s), "position 6 does not exist at step 0");
            s.set(0, new int[] {5}, 1);
            s.setStep(1);
            IllegalArgumentException index = assertThrows(IllegalArgumentException.class, () -> w.write(s));
            assertTrue(index.getMessage().contains("step index 1 but 0 steps were written"), index.getMessage());
        }
    }

    @Test
    void size_isAboutTwoBytesPerPosition() throws IOException {
        Path file = dir.resolve("size.tkvt");
        SyntheticTrace.write(SyntheticTraceConfig.defaults(8192, 100, 1), file);
        long positions = 100L * 32 * 8;
        double perPosition = (double) Files.size(file) / positions;
        assertTrue(perPosition < 2.5, "bytes per position " + perPosition);
    }

    /** Issue 14: varint ff ff ff ff 0f is -1 as an int; it passed the length check and indexed out of the buffer. */
    @Test
    void negativeStepLength_isALengthPastAnyStep_notAnIndexError() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        int header = TraceDescriptor.headerLength("hand-written".length()) + TraceDescriptor.emptyPrefillBytes(LAYOUT.layers());
        byte[] bad = new byte[bytes.length + 5];
        System.arraycopy(bytes, 0, bad, 0, header);
        System.arraycopy(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f}, 0, bad, header, 5);
        System.arraycopy(bytes, header, bad, header + 5, bytes.length - header);
        Files.write(file, bad);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(header, e.offset());
        assertTrue(e.getMessage().contains("step 0 record length 4294967295 exceeds the 40 bytes 2 layers of top-3 can take"),
                e.getMessage());
    }

    /** Found by the fuzz test at 20,000 cases: a count varint of 2^32 - 1 read as -1 passed "n > topK" and failed without the file. */
    @Test
    void layerCountOf2To32Minus1_isMoreThanTopK_namedAtItsOffset() throws IOException {
        Path ok = dir.resolve("ok.tkvt");
        TraceHeader header = new TraceHeader(new KvLayout(1, 1, 8, DType.F32, 4), 2, 5, 1, "");
        try (TraceWriter w = TraceWriter.create(ok, header)) {
            TraceStep s = header.newStep();
            s.setStep(0);
            s.set(0, new int[] {4}, 1);
            w.write(s);
        }
        byte[] head = Arrays.copyOf(Files.readAllBytes(ok), TraceDescriptor.headerLength(0) + TraceDescriptor.emptyPrefillBytes(1));
        byte[] payload = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f};
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(payload);
        ByteBuffer record = ByteBuffer.allocate(1 + payload.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        record.put((byte) payload.length).put(payload).putInt((int) crc.getValue());
        byte[] all = Arrays.copyOf(head, head.length + record.capacity());
        System.arraycopy(record.array(), 0, all, head.length, record.capacity());
        Path file = Files.write(dir.resolve("count.tkvt"), all);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> readAll(file));
        assertEquals(head.length + 1, e.offset());
        assertTrue(e.getMessage().endsWith("step 0 layer 0 holds 4294967295 positions, more than topK 2"), e.getMessage());
    }

    /** Issue 14: a 17 KB trace whose header said 100,000,000 layers made its reader allocate 100 M arrays. */
    @Test
    void hugeLayerCount_inASmallFile_isRefusedBeforeAnythingIsAllocated() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(TraceDescriptor.LAYERS_OFFSET, 100_000_000)
                .putInt(TraceDescriptor.TOP_K_OFFSET, 1);
        Files.write(file, withHeaderCrc(bytes, "hand-written".length()));
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceReader.readHeader(file));
        assertEquals(TraceDescriptor.LAYERS_OFFSET, e.offset());
        assertTrue(e.getMessage().contains("the header says 100000000 layers, but a step of them takes at least 100000005 bytes and"
                + " only 28 bytes follow the header"), e.getMessage());
    }

    @Test
    void layersTimesTopK_pastTheStepCap_isRefused() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(TraceDescriptor.TOP_K_OFFSET, 1 << 24);
        Files.write(file, withHeaderCrc(bytes, "hand-written".length()));
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceReader.readHeader(file));
        assertTrue(e.getMessage().contains("layers x topK = 2 x 16777216 positions per step is more than the 16777216"), e.getMessage());
    }

    /** Issue 14: a nonzero reserved header field passed. */
    @Test
    void nonzeroReservedHeaderField_isRefused() throws IOException {
        Path file = writeTiny();
        byte[] bytes = Files.readAllBytes(file);
        bytes[TraceDescriptor.RESERVED_OFFSET] = 7;
        Files.write(file, withHeaderCrc(bytes, "hand-written".length()));
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceReader.readHeader(file));
        assertEquals(TraceDescriptor.RESERVED_OFFSET, e.offset());
        assertTrue(e.getMessage().endsWith("reserved header field is 7, must be 0"), e.getMessage());
    }

    /** Issue 14: a missing trace file's error was only its path. */
    @Test
    void missingTraceFile_saysSo() {
        Path file = dir.resolve("absent.tkvt");
        java.nio.file.NoSuchFileException e = assertThrows(java.nio.file.NoSuchFileException.class, () -> TraceReader.open(file));
        assertEquals(file + ": no such trace file", e.getMessage());
    }

    /** Issue 14: a killed run must not leave a half trace under the final name. */
    @Test
    void writerThatFailsBeforeClose_leavesNoFileUnderTheFinalName() throws IOException {
        Path file = dir.resolve("partial.tkvt");
        TraceHeader header = new TraceHeader(LAYOUT, 3, 5, 2, "");
        TraceWriter w = TraceWriter.create(file, header);
        TraceStep step = header.newStep();
        step.setStep(0);
        w.write(step);
        assertFalse(Files.exists(file), "nothing under the final name while the trace is written");
        IOException e = assertThrows(IOException.class, w::close);
        assertTrue(e.getMessage().contains("promised 2 steps but 1 were written"), e.getMessage());
        assertFalse(Files.exists(file));
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            assertEquals(0, s.count(), "the temporary file is gone too");
        }
    }

    /** Recomputes the header CRC after a test patched a header field, so the field itself is what gets checked. */
    static byte[] withHeaderCrc(byte[] bytes, int sourceLength) {
        int crcAt = TraceDescriptor.headerLength(sourceLength) - TraceDescriptor.CRC_BYTES;
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(bytes, 0, crcAt);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(crcAt, (int) crc.getValue());
        return bytes;
    }

    private static int payloadLength(byte[] bytes, int at) {
        return bytes[at] & 0x7F;
    }

    private static void readAll(Path file) throws IOException {
        try (TraceReader r = TraceReader.open(file)) {
            TraceStep s = r.header().newStep();
            while (r.next(s)) {
                // read to the end
            }
        }
    }
}
