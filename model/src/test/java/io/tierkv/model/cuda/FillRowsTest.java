package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import java.nio.ByteBuffer;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link StepDevice#fillRows}: only the first {@code rowBytes} of each row are set, the rest of every row keeps its bytes
 * (the tiered store zeroes the probability rows up to the sequence's length, not to maxTokens).
 */
class FillRowsTest {
    @Test
    void theMirror_setsTheUsedColumnsOfEachRow_only() {
        assertFillsRows(HostStepDevice::new);
    }

    @Test
    @Tag("gpu")
    void theGpu_setsTheUsedColumnsOfEachRow_only() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
        assertFillsRows(CudaStepDevice::new);
    }

    private static void assertFillsRows(Supplier<StepDevice> devices) {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (StepDevice device = devices.get()) {
            int pitch = 40;
            int rows = 5;
            long at = device.alloc(pitch * rows + 8);
            device.fill(at, pitch * rows + 8, (byte) 7);
            device.fillRows(at + 4, pitch, 12, rows, (byte) 0);
            ByteBuffer got = ByteBuffer.allocate(pitch * rows + 8);
            device.download(at, got);
            byte[] want = new byte[pitch * rows + 8];
            java.util.Arrays.fill(want, (byte) 7);
            for (int r = 0; r < rows; r++) {
                java.util.Arrays.fill(want, 4 + r * pitch, 4 + r * pitch + 12, (byte) 0);
            }
            assertArrayEquals(want, got.array());
            assertThrows(IllegalArgumentException.class, () -> device.fillRows(at, 8, 12, 2, (byte) 0), "a row wider than its pitch");
        }
        before.assertNoLeaks();
    }
}
