package io.tierkv.tiering.remote;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixChain;
import io.tierkv.core.prefix.PrefixNamespace;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.tierkv.tiering.remote.BlockValueDescriptor.Verdict;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class BlockValueDescriptorTest {
    private static final BlockValueDescriptor FORMAT = new BlockValueDescriptor(TestBlocks.NAMESPACE);
    private static final List<BlockHash> HASHES = PrefixChain.hashes(TestBlocks.NAMESPACE, TestBlocks.tokens(12, 1), 12);

    @Test
    void encodeThenDecode_restoresEveryLayersKeysAndValues() {
        TestBlocks src = TestBlocks.random(TestBlocks.LAYOUT, 3, 11);
        TestBlocks dst = new TestBlocks(TestBlocks.LAYOUT, 3);
        byte[] v = FORMAT.encode(HASHES.get(2), 2, src);
        assertEquals(BlockValueDescriptor.HEADER_BYTES + 2 * TestBlocks.LAYOUT.blockBytes(), v.length);
        assertEquals(Verdict.OK, FORMAT.check(HASHES.get(2), v));
        FORMAT.decode(v, 0, dst);
        assertArrayEquals(src.block(2), dst.block(0));
        assertEquals("TKVB", new String(v, 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Test
    void everyDamage_isNamed() {
        TestBlocks src = TestBlocks.random(TestBlocks.LAYOUT, 1, 3);
        byte[] good = FORMAT.encode(HASHES.get(0), 0, src);
        assertEquals(Verdict.TOO_SHORT, FORMAT.check(HASHES.get(0), null));
        assertEquals(Verdict.TOO_SHORT, FORMAT.check(HASHES.get(0), new byte[10]));
        assertEquals(Verdict.BAD_MAGIC, FORMAT.check(HASHES.get(0), flip(good, 0)));
        assertEquals(Verdict.BAD_VERSION, FORMAT.check(HASHES.get(0), flip(good, BlockValueDescriptor.VERSION_OFFSET + 1)));
        assertEquals(Verdict.OTHER_NAMESPACE, FORMAT.check(HASHES.get(0), flip(good, BlockValueDescriptor.NAMESPACE_OFFSET + 3)));
        assertEquals(Verdict.OTHER_BLOCK, FORMAT.check(HASHES.get(1), good), "a value stored under another block's key");
        assertEquals(Verdict.BAD_LENGTH, FORMAT.check(HASHES.get(0), java.util.Arrays.copyOf(good, good.length - 1)));
        assertEquals(Verdict.BAD_CHECKSUM, FORMAT.check(HASHES.get(0), flip(good, good.length - 1)));
        assertEquals(Verdict.BAD_CHECKSUM, FORMAT.check(HASHES.get(0), flip(good, BlockValueDescriptor.FLAGS_OFFSET)),
                "the header is under the checksum too");
    }

    @Test
    void valueOfAnotherLayout_isAnotherNamespace() {
        PrefixNamespace f16 = PrefixNamespace.of(TestBlocks.NAMESPACE.model(), new KvLayout(2, 2, 8, DType.F16, 4));
        BlockValueDescriptor other = new BlockValueDescriptor(f16);
        byte[] v = other.encode(HASHES.get(0), 0, TestBlocks.random(f16.layout(), 1, 5));
        assertEquals(Verdict.OTHER_NAMESPACE, FORMAT.check(HASHES.get(0), v));
    }

    private static byte[] flip(byte[] v, int at) {
        byte[] c = v.clone();
        c[at] ^= 0x10;
        return c;
    }
}
