package io.tierkv.core.trace;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Mutation fuzzing of {@link TraceReader}: every seed of the committed corpus ({@code src/test/resources/fuzz/trace},
 * valid traces and the repro cases of issue 14) is mutated (header fields set to boundary values, bytes flipped,
 * inserted, deleted, the file cut or extended), and, half of the time, its header and step checksums are
 * recomputed so the mutation reaches the checks behind them. Every input must end in a whole read whose steps
 * obey the format, or in one {@link IOException}/{@link IllegalArgumentException} that names the file; a header
 * read must never promise more per-step memory than the file can back. Tries per run: {@code jqwik.tries.default}
 * (2000 in a normal build, more with {@code -Pfuzz}); the outcome counts are in the test's report.
 */
class TraceReaderFuzzTest {
    private static final int[] FIELDS = {TraceDescriptor.VERSION_OFFSET, TraceDescriptor.HEADER_LENGTH_OFFSET, TraceDescriptor.LAYERS_OFFSET,
        TraceDescriptor.KV_HEADS_OFFSET, TraceDescriptor.HEAD_DIM_OFFSET, TraceDescriptor.DTYPE_OFFSET, TraceDescriptor.RESERVED_OFFSET,
        TraceDescriptor.BLOCK_SIZE_OFFSET, TraceDescriptor.TOP_K_OFFSET, TraceDescriptor.PROMPT_LENGTH_OFFSET,
        TraceDescriptor.STEPS_OFFSET, TraceDescriptor.SOURCE_LENGTH_OFFSET};
    private static final int[] VALUES = {-1, 0, 1, 2, 7, 255, 65535, 100_000_000, Integer.MAX_VALUE, Integer.MIN_VALUE, 1 << 24};

    private static List<byte[]> seeds;
    private static Path work;

    @BeforeContainer
    static void loadCorpus() throws IOException, URISyntaxException {
        Path dir = Path.of(TraceReaderFuzzTest.class.getResource("/fuzz/trace").toURI());
        seeds = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir).sorted()) {
            for (Path f : (Iterable<Path>) files::iterator) {
                seeds.add(Files.readAllBytes(f));
            }
        }
        work = Files.createTempDirectory("trace-fuzz");
    }

    @AfterContainer
    static void removeWork() throws IOException {
        try (Stream<Path> files = Files.list(work)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(work);
    }

    /** One change to a trace's bytes. */
    record Mutation(int kind, int at, int value) {
        byte[] apply(byte[] b) {
            if (b.length == 0) {
                return new byte[] {(byte) value};
            }
            int i = Math.floorMod(at, b.length);
            switch (kind) {
                case 0: { // a header field set to a boundary value
                    int field = FIELDS[Math.floorMod(at, FIELDS.length)];
                    byte[] c = b.clone();
                    ByteBuffer w = ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN);
                    int v = VALUES[Math.floorMod(value, VALUES.length)];
                    if (field + 4 <= c.length && field != TraceDescriptor.VERSION_OFFSET && field != TraceDescriptor.HEADER_LENGTH_OFFSET
                            && field != TraceDescriptor.RESERVED_OFFSET && field != TraceDescriptor.SOURCE_LENGTH_OFFSET
                            && field != TraceDescriptor.DTYPE_OFFSET) {
                        w.putInt(field, v);
                    } else if (field + 2 <= c.length) {
                        w.putShort(field, (short) v);
                    }
                    return c;
                }
                case 1: { // a flipped byte
                    byte[] c = b.clone();
                    c[i] ^= (byte) (1 << Math.floorMod(value, 8));
                    return c;
                }
                case 2: { // inserted bytes
                    int n = 1 + Math.floorMod(value, 6);
                    byte[] c = new byte[b.length + n];
                    System.arraycopy(b, 0, c, 0, i);
                    for (int k = 0; k < n; k++) {
                        c[i + k] = (byte) (value >> k);
                    }
                    System.arraycopy(b, i, c, i + n, b.length - i);
                    return c;
                }
                case 3: { // deleted bytes
                    int n = Math.min(1 + Math.floorMod(value, 6), b.length - i);
                    byte[] c = new byte[b.length - n];
                    System.arraycopy(b, 0, c, 0, i);
                    System.arraycopy(b, i + n, c, i, b.length - i - n);
                    return c;
                }
                case 4: // cut
                    return java.util.Arrays.copyOf(b, i);
                default: { // a step's varint length or a count set to 0xff.. (-1 and other large values)
                    byte[] c = java.util.Arrays.copyOf(b, b.length + 5);
                    System.arraycopy(b, i, c, i + 5, b.length - i);
                    byte[] v = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) (value & 0x0f)};
                    System.arraycopy(v, 0, c, i, 5);
                    return c;
                }
            }
        }
    }

    @Provide
    Arbitrary<byte[]> mutatedTraces() {
        Arbitrary<Mutation> mutation = Combinators.combine(Arbitraries.integers().between(0, 5), Arbitraries.integers(),
                Arbitraries.integers()).as(Mutation::new);
        return Combinators.combine(Arbitraries.integers().between(0, 1 << 20), mutation.list().ofMinSize(1).ofMaxSize(4),
                Arbitraries.of(true, false)).as((seed, mutations, fixCrcs) -> {
                    byte[] b = seeds.get(seed % seeds.size());
                    for (Mutation m : mutations) {
                        b = m.apply(b);
                    }
                    return fixCrcs ? withChecksums(b) : b;
                });
    }

    @Property(seed = "20261130")
    void anyMutatedTrace_readsWhole_orFailsWithOneErrorNamingTheFile(@ForAll("mutatedTraces") byte[] bytes) throws IOException {
        Path file = Files.write(work.resolve("t.tkvt"), bytes);
        String outcome;
        try (TraceReader r = TraceReader.open(file)) {
            TraceHeader h = r.header();
            assertTrue((long) h.layers() * h.topK() <= TraceDescriptor.MAX_STEP_POSITIONS, "step buffer bound: " + h);
            assertTrue(h.steps() == 0 || h.layers() + 5L <= bytes.length, "layers bounded by the file: " + h);
            TraceStep s = h.newStep();
            while (r.next(s)) {
                for (int l = 0; l < s.layers(); l++) {
                    int previous = -1;
                    for (int i = 0; i < s.count(l); i++) {
                        int p = s.position(l, i);
                        assertTrue(p > previous && p <= h.promptLength() + s.step(), "positions ascend within the sequence: " + s);
                        previous = p;
                    }
                }
            }
            outcome = "read whole";
        } catch (TraceFormatException e) {
            assertTrue(e.getMessage().startsWith("trace " + file + ": byte offset "), e.getMessage());
            assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
            outcome = kind(e.getMessage());
        }
        Statistics.collect(outcome);
    }

    /** A short name for an error, for the outcome statistics. */
    private static String kind(String message) {
        String detail = message.substring(message.indexOf(": ", message.indexOf("byte offset")) + 2);
        return detail.replaceAll("[0-9]+", "N").replaceAll("\\(stored .*", "").replaceAll("step N layer N position N", "step position")
                .replaceAll("'.*'", "'...'").trim();
    }

    /** Recomputes the header CRC and every step CRC that can be found, so mutations reach the checks behind them. */
    static byte[] withChecksums(byte[] b) {
        if (b.length < TraceDescriptor.FIXED_HEADER_BYTES) {
            return b;
        }
        byte[] c = b.clone();
        ByteBuffer w = ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN);
        int source = Short.toUnsignedInt(w.getShort(TraceDescriptor.SOURCE_LENGTH_OFFSET));
        int header = TraceDescriptor.headerLength(source);
        if (header > c.length) {
            return c;
        }
        CRC32 crc = new CRC32();
        crc.update(c, 0, header - 4);
        w.putInt(header - 4, (int) crc.getValue());
        int pos = header;
        while (pos < c.length) {
            long length = 0;
            int shift = 0;
            int p = pos;
            while (p < c.length && shift < 35) {
                int v = c[p++] & 0xff;
                length |= (long) (v & 0x7f) << shift;
                shift += 7;
                if ((v & 0x80) == 0) {
                    break;
                }
            }
            if (length < 0 || p + length + 4 > c.length) {
                break;
            }
            crc.reset();
            crc.update(c, p, (int) length);
            w.putInt(p + (int) length, (int) crc.getValue());
            pos = p + (int) length + 4;
        }
        return c;
    }
}
