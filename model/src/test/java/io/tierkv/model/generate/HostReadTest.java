package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HostReadTest {
    @Test
    void parse_readsEveryForm() {
        assertEquals(HostRead.EXACT, HostRead.parse("exact"));
        assertEquals(HostRead.DEFAULT, HostRead.parse("digest"));
        assertEquals(HostRead.DEFAULT, HostRead.parse(HostRead.DEFAULT.toString()));
        assertEquals(HostRead.digest(5), HostRead.parse("digest:blocks=5"));
        assertEquals("digest:blocks=5", HostRead.parse("digest:blocks=5").toString());
        assertEquals(new HostRead(true, 3, 2), HostRead.parse("digest:blocks=3,parts=2"));
        assertEquals("digest:blocks=3,parts=2", HostRead.parse("digest:blocks=3,parts=2").toString());
        assertEquals(new HostRead(true, 3, 1, 1.0), HostRead.parse("digest:blocks=3,min=1"));
        assertEquals("digest:blocks=3,min=1", HostRead.parse("digest:blocks=3,min=1").toString());
        assertEquals("digest:blocks=4,min=0.5", HostRead.parse("digest:blocks=4,min=0.5").toString());
    }

    @Test
    void parse_badInput_namesWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("sparse")).getMessage().contains("sparse"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:blocks=0")).getMessage().contains(">= 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:blocks=x")).getMessage().contains("integer"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:k=2")).getMessage().contains("k=2"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:min=-1")).getMessage().contains("min >= 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:min=lots")).getMessage().contains("number"));
    }

    @Test
    void parse_readsHeadSelection_codedDigests_andTheirSlices() {
        HostRead h = HostRead.parse("digest:select=head,slices=10,parts=4,bits=4");
        assertTrue(h.perHead());
        assertEquals(10, h.slicesFor(4));
        assertEquals(4, h.parts());
        assertEquals(4, h.bits());
        assertEquals(h, HostRead.parse(h.toString()), h.toString());
        HostRead even = HostRead.parse("digest:blocks=3,select=head");
        assertEquals(12, even.slicesFor(4), "3 blocks' worth of head slices");
        assertEquals("digest:blocks=3,select=head", even.toString());
        assertEquals(8, HostRead.parse("digest:bits=8").bits());
        assertEquals(HostRead.parse("digest:blocks=2,select=block,bits=16"), HostRead.digest(2));
        assertEquals(0.5, HostRead.parse("digest:select=head,slices=12,min=0.5").min());
    }

    @Test
    void parse_readsKeys_andRefusesKeysThatCannotExceedTheSlicesRead() {
        HostRead h = HostRead.parse("digest:parts=4,bits=4,select=head,slices=8,keys=12");
        assertEquals(12, h.keys());
        assertEquals(12, h.keysFor(4));
        assertEquals(h, HostRead.parse(h.toString()), h.toString());
        assertEquals(12, HostRead.DEFAULT.keysFor(4), "plain digest scores the keys of 12 slices and reads the best 8");
        assertEquals(0, HostRead.parse("digest:parts=4,bits=4,select=head,slices=10").keysFor(4), "without keys=C no keys are scored");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:keys=12")).getMessage().contains("needs select=head"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:select=head,slices=8,keys=8")).getMessage()
                .contains("must exceed slices=8"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:select=head,keys=0")).getMessage()
                .contains("keys must be >= 1"));
        HostRead byBlocks = HostRead.parse("digest:blocks=2,select=head,keys=6"); // 8 slices for 4 KV heads
        assertTrue(assertThrows(IllegalArgumentException.class, () -> byBlocks.keysFor(4)).getMessage().contains("must exceed the 8"));
        assertEquals(6, byBlocks.keysFor(1));
    }

    @Test
    void parse_badHeadAndBitsOptions_nameWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:bits=7")).getMessage().contains("bits=16, 8 or 4"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:select=page")).getMessage().contains("block or head"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:slices=4")).getMessage().contains("needs select=head"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:select=head,slices=0")).getMessage()
                .contains("slices must be >= 1"));
    }

    @Test
    void cuda_refusesTheOptionsItsKernelsDoNotImplement_byName() {
        assertEquals("bits=8 without a sketch", HostRead.parse("digest:bits=8").cudaUnsupported());
        assertEquals("sketch=1 over bfloat16 boxes", HostRead.parse("digest:blocks=3,sketch=1").cudaUnsupported());
        assertEquals(null, HostRead.parse("digest:select=head,slices=6").cudaUnsupported(), "the per-head choice is the host's");
        assertEquals(null, HostRead.parse("digest:blocks=3,parts=2,min=1").cudaUnsupported());
        assertEquals(null, HostRead.EXACT.cudaUnsupported());
        assertEquals(HostRead.DEFAULT, HostRead.DEFAULT.forCuda(), "plain digest: the same sketch and per-head choice on CUDA");
        assertEquals(HostRead.SMALL, HostRead.SMALL.forCuda());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:blocks=2,bits=4").checkCuda());
        assertTrue(e.getMessage().contains("bits=4 without a sketch") && e.getMessage().contains("--backend cuda"), e.getMessage());
    }

    @Test
    void sketch_parsesRoundTripsAndCountsItsBytes_andRefusesWhatItCannotCode() {
        HostRead h = HostRead.parse("digest:bits=4,select=head,slices=8,keys=12,sketch=2");
        assertEquals(2, h.sketch());
        assertEquals(HostRead.DEFAULT, h, "plain digest ranks by a 2-bit sketch");
        assertEquals(h, HostRead.parse(h.toString()), h.toString());
        assertEquals(HostRead.SMALL, HostRead.parse(HostRead.SMALL.toString()));
        // the bundled model: 4 KV heads of 32 in 16-token blocks; a 4-bit box (160 bytes) and 16 x 4 x 32 codes
        assertEquals(160 + 512, h.digestBytesPerBlock(4, 32, 16));
        assertEquals(160 + 256, HostRead.SMALL.digestBytesPerBlock(4, 32, 16));
        assertEquals(BlockDigests.bytesPerBlock(4, 32, 4, 4), HostRead.parse("digest:parts=4,bits=4").digestBytesPerBlock(4, 32, 16),
                "no sketch, no codes");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:parts=4,sketch=2")).getMessage()
                .contains("needs parts=1, was 4"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:sketch=3")).getMessage()
                .contains("sketch=1, 2 or 4, was 3"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostRead.parse("digest:sketch=two")).getMessage()
                .contains("sketch must be an integer"));
    }
}
