package io.tierkv.core.prefix;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PrefixChainTest {
    private static final KvLayout LAYOUT = new KvLayout(4, 2, 8, DType.F32, 4);
    private static final ModelFingerprint MODEL = ModelFingerprint.ofDescription("test model seed=1", DType.F32);
    private static final PrefixNamespace NS = PrefixNamespace.of(MODEL, LAYOUT);

    private static int[] tokens(int n, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(50_000);
        }
        return t;
    }

    @Test
    void hashes_onlyFullBlocksGetOne() {
        assertEquals(0, PrefixChain.hashes(NS, tokens(3, 1), 3).size());
        assertEquals(2, PrefixChain.hashes(NS, tokens(11, 1), 11).size());
        assertEquals(3, PrefixChain.hashes(NS, tokens(12, 1), 12).size());
    }

    @Test
    void firstBlock_isSha256OfNamespaceDigestAndLittleEndianTokenIds() throws Exception {
        int[] t = {1, 258, -1, 70_000};
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(NS.digest());
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : t) {
            b.putInt(x);
        }
        md.update(b.array());
        byte[] expected = md.digest();
        assertEquals(new BlockHash(expected), PrefixChain.hashes(NS, t, 4).get(0));
    }

    @Test
    void sharedPrefix_sharesHashesUpToTheFirstDifferingBlock() {
        int[] a = tokens(20, 7);
        int[] b = a.clone();
        b[9] ^= 1; // block 2 (tokens 8..11) differs
        List<BlockHash> ha = PrefixChain.hashes(NS, a, 20);
        List<BlockHash> hb = PrefixChain.hashes(NS, b, 20);
        assertEquals(ha.subList(0, 2), hb.subList(0, 2));
        for (int i = 2; i < 5; i++) {
            assertNotEquals(ha.get(i), hb.get(i), "block " + i + " follows a different block, so its hash differs");
        }
    }

    @Test
    void sameBlockAfterDifferentPrefix_hashesDifferently() {
        int[] a = {1, 2, 3, 4, 9, 9, 9, 9};
        int[] b = {5, 6, 7, 8, 9, 9, 9, 9};
        assertNotEquals(PrefixChain.hashes(NS, a, 8).get(1), PrefixChain.hashes(NS, b, 8).get(1));
    }

    @Test
    void appendingTokenByToken_givesTheBulkHashes() {
        int[] t = tokens(37, 3);
        PrefixChain chain = new PrefixChain(NS);
        for (int x : t) {
            chain.append(x);
        }
        assertEquals(37, chain.length());
        assertEquals(9, chain.fullBlocks());
        assertEquals(PrefixChain.hashes(NS, t, 37), chain.hashes());
        PrefixChain split = new PrefixChain(NS);
        split.append(t, 0, 5);
        split.append(t, 5, 32);
        assertEquals(chain.hashes(), split.hashes());
    }

    @Test
    void namespace_differsForEveryLayoutFieldAndModel() {
        int[] t = tokens(8, 5);
        BlockHash base = PrefixChain.hashes(NS, t, 8).get(0);
        List<PrefixNamespace> others = List.of(
                PrefixNamespace.of(MODEL, new KvLayout(5, 2, 8, DType.F32, 4)),
                PrefixNamespace.of(MODEL, new KvLayout(4, 1, 8, DType.F32, 4)),
                PrefixNamespace.of(MODEL, new KvLayout(4, 2, 16, DType.F32, 4)),
                PrefixNamespace.of(MODEL, new KvLayout(4, 2, 8, DType.F16, 4)),
                PrefixNamespace.of(ModelFingerprint.ofDescription("test model seed=2", DType.F32), LAYOUT),
                PrefixNamespace.of(ModelFingerprint.ofDescription("test model seed=1", DType.BF16), LAYOUT));
        for (PrefixNamespace other : others) {
            assertNotEquals(NS, other);
            assertNotEquals(base, PrefixChain.hashes(other, t, 8).get(0), other.toString());
        }
        // Block size 2 over the same tokens: its first block covers 2 tokens, a different content altogether.
        PrefixNamespace bs2 = PrefixNamespace.of(MODEL, new KvLayout(4, 2, 8, DType.F32, 2));
        assertNotEquals(base, PrefixChain.hashes(bs2, t, 8).get(1));
        assertEquals(NS, PrefixNamespace.of(ModelFingerprint.ofDescription("test model seed=1", DType.F32), LAYOUT));
    }

    @Test
    void hash_ofABlockNotYetFull_isAnError() {
        PrefixChain chain = new PrefixChain(NS);
        chain.append(tokens(6, 1), 0, 6);
        assertEquals(1, chain.fullBlocks());
        assertThrows(IndexOutOfBoundsException.class, () -> chain.hash(1));
        assertThrows(IndexOutOfBoundsException.class, () -> chain.append(new int[3], 2, 2));
    }
}
