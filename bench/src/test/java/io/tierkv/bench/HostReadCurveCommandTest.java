package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@code host-read-curve}: one line per digest family, whatever its budget of blocks or slices. */
class HostReadCurveCommandTest {
    @Test
    void family_dropsTheReadBudget_andKeepsWhatMakesTheDigestAndTheSelection() {
        assertEquals("digest (Quest blocks)", HostReadCurveCommand.family("digest:blocks=2"));
        assertEquals("digest:min=1", HostReadCurveCommand.family("digest:blocks=3,min=1"));
        assertEquals("digest:parts=4,bits=4,select=head",
                HostReadCurveCommand.family("digest:blocks=2,parts=4,bits=4,select=head,slices=10"));
        assertEquals("exact", HostReadCurveCommand.family("exact"));
        assertEquals("", HostReadCurveCommand.family(""));
    }
}
