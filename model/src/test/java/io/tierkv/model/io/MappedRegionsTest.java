package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tierkv.core.DType;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MappedRegionsTest {
    @TempDir
    Path dir;

    @Test
    void regions_countTheirBytes_closeTwice_andRefuseNewOnesAfterClose() {
        Path file = dir.resolve("t.safetensors");
        new SafeTensorsWriter().add("a", new float[] {1, 2, 3, 4}, new long[] {2, 2}, DType.BF16)
                .add("b", new float[] {5, 6}, new long[] {2}, DType.F32).write(file);
        MappedRegions regions = new MappedRegions();
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            assertEquals(Half.toBf16(3f), regions.add(st.map("a")).getShort(4));
            assertEquals(6f, regions.add(st.map("b")).getFloat(4));
            assertEquals(8 + 8, regions.bytes());
            regions.close();
            regions.close();
            assertThrows(IllegalStateException.class, () -> regions.add(st.map("a")));
        }
    }
}
