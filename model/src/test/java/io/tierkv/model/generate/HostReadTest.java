package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HostReadTest {
    @Test
    void parse_readsEveryForm() {
        assertEquals(HostRead.EXACT, HostRead.parse("exact"));
        assertEquals(HostRead.digest(HostRead.DEFAULT_BLOCKS), HostRead.parse("digest"));
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
}
