package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class StagedUploadTest {
    /**
     * <pre>
     *   first upload:            [0, 64)   the device's copy starts undefined
     *   the same values again:   nothing
     *   ints at 8 and 40:        [8, 44)   one span over both
     * </pre>
     */
    @Test
    void uploads_theWholeFirst_thenOnlyTheSpanThatChanged() {
        RecordingDevice recorder = new RecordingDevice();
        try (HostStepDevice mirror = new HostStepDevice()) {
            StepDevice device = recorder.wrap(mirror);
            long address = device.alloc(64);
            ByteBuffer staging = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            StagedUpload up = new StagedUpload(device, address, staging);
            up.putInt(8, 7);
            up.upload();
            assertEquals(List.of(64), recorder.uploads());
            assertEquals(List.of(address), recorder.uploadAddresses());

            up.putInt(8, 7);
            up.putByte(20, (byte) 0);
            up.upload();
            assertEquals(1, recorder.uploads().size(), "nothing changed: nothing uploaded");

            up.putInt(40, 3);
            up.putInt(8, 9);
            up.upload();
            assertEquals(List.of(64, 36), recorder.uploads());
            assertEquals(address + 8, recorder.uploadAddresses().get(1));
            ByteBuffer back = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            device.download(address, back);
            assertEquals(9, back.getInt(8));
            assertEquals(3, back.getInt(40));
        }
    }
}
