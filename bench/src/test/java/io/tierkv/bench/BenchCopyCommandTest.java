package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class BenchCopyCommandTest {

    @Test
    void sizes_areBinaryMultiples() {
        assertEquals(1L << 30, BenchCopyCommand.parseSize("--bytes", "1GiB"));
        assertEquals(256L << 20, BenchCopyCommand.parseSize("--arena", "256MiB"));
        assertEquals(64L << 10, BenchCopyCommand.parseSize("--arena", "64k"));
        assertEquals(4096, BenchCopyCommand.parseSize("--arena", "4096"));
    }

    /** The rates printed count a GB as 1e9 bytes: a size in GB would be read two ways, so it is refused with the spelling to use. */
    @Test
    void aDecimalLookingUnit_isRefused_sayingWhatToWrite() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchCopyCommand.parseSize("--arena", "1GB"));
        assertEquals("--arena '1GB' is ambiguous: sizes here are binary, write 1GiB (or a number of bytes)", e.getMessage());
    }
}
