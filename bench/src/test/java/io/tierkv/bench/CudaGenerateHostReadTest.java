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
        assertTrue(e.getMessage().startsWith("--host-read digest:blocks=4 with --backend cuda needs a tiered policy"), e.getMessage());
    }

    @Test
    void optionsTheKernelsLack_areOneErrorNamingTheOption_andPlainDigestIsQuestsBlocks() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaGenerate.checkHostRead(true, HostRead.parse("digest:blocks=2,select=head")));
        assertTrue(e.getMessage().contains("option select=head") && e.getMessage().contains("--backend cuda"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CudaGenerate.checkHostRead(true, HostRead.parse("digest:bits=8")));
        assertTrue(e.getMessage().contains("option bits=8"), e.getMessage());
        org.junit.jupiter.api.Assertions.assertEquals(HostRead.digest(HostRead.DEFAULT_BLOCKS),
                CudaGenerate.checkHostRead(true, HostRead.parse("digest")));
    }

    @Test
    void digestTiered_andExactEither_areAccepted() {
        CudaGenerate.checkHostRead(true, HostRead.parse("digest"));
        CudaGenerate.checkHostRead(false, HostRead.EXACT);
        CudaGenerate.checkHostRead(true, HostRead.EXACT);
    }
}
