package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.generate.HostRead;
import org.junit.jupiter.api.Test;

/** {@code generate --backend cuda --host-read}: digest reads need a host tier, so policy {@code full} refuses them in one line. */
class CudaGenerateHostReadTest {
    @Test
    void digestWithPolicyFull_isOneErrorNamingTheOption() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaGenerate.checkHostRead(false, HostRead.parse("digest:blocks=4")));
        assertTrue(e.getMessage().startsWith("--host-read digest:blocks=4 with --backend cuda needs a policy that tiers by popularity"), e.getMessage());
    }

    @Test
    void optionsTheKernelsLack_areOneErrorNamingTheOption_andPlainDigestIsTheCpusDefault() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaGenerate.checkHostRead(true, HostRead.parse("digest:blocks=2,sketch=1")));
        assertTrue(e.getMessage().contains("sketch=1 over bfloat16 boxes") && e.getMessage().contains("--backend cuda"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CudaGenerate.checkHostRead(true, HostRead.parse("digest:bits=8")));
        assertTrue(e.getMessage().contains("bits=8 without a sketch"), e.getMessage());
        org.junit.jupiter.api.Assertions.assertEquals(HostRead.DEFAULT, CudaGenerate.checkHostRead(true, HostRead.parse("digest")));
    }

    @Test
    void digestTiered_andExactEither_areAccepted() {
        CudaGenerate.checkHostRead(true, HostRead.parse("digest"));
        CudaGenerate.checkHostRead(false, HostRead.EXACT);
        CudaGenerate.checkHostRead(true, HostRead.EXACT);
    }
}
