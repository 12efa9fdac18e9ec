package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The JCuda layer on a real device: round trips through device and pinned memory, events, closing twice. */
@Tag("gpu")
class DriverLayerGpuTest {

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void roundTrip_pinnedToDeviceToDeviceToPinned_preservesBytesAndLeaksNothing() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        int n = 1 << 20;
        try (CudaContext ctx = CudaContext.primary(0);
             CudaStream stream = new CudaStream(ctx);
             CudaEvent start = new CudaEvent(ctx);
             CudaEvent done = new CudaEvent(ctx);
             PinnedBuffer src = new PinnedBuffer(ctx, n);
             PinnedBuffer dst = new PinnedBuffer(ctx, n);
             DeviceBuffer a = new DeviceBuffer(ctx, n);
             DeviceBuffer b = new DeviceBuffer(ctx, n)) {
            assertEquals(2L * n, MemoryLedger.outstanding(MemoryKind.DEVICE) - before.bytes()[MemoryKind.DEVICE.ordinal()]);
            ByteBuffer in = src.buffer();
            for (int i = 0; i < n; i++) {
                in.put(i, (byte) (i * 31 + 7));
            }
            start.record(stream);
            CudaCopies.hostToDeviceAsync(a, 0, src, 0, n, stream);
            CudaCopies.deviceToDevice(b, 4096, a, 0, n - 4096, stream);
            CudaCopies.deviceToDevice(b, 0, a, n - 4096, 4096, stream);
            CudaCopies.deviceToHostAsync(dst, 0, b, 0, n, stream);
            done.record(stream);
            done.synchronize();
            assertTrue(done.isComplete());
            assertTrue(done.elapsedMillisSince(start) >= 0);
            ByteBuffer out = dst.buffer();
            for (int i = 0; i < n; i++) {
                int from = (i - 4096 + n) % n;
                assertEquals((byte) (from * 31 + 7), out.get(i), "byte " + i);
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void close_twice_isHarmlessAndUseAfterCloseFailsClearly() {
        try (CudaContext ctx = CudaContext.primary(0)) {
            DeviceBuffer d = new DeviceBuffer(ctx, 256);
            d.close();
            assertDoesNotThrow(d::close);
            assertThrows(IllegalStateException.class, d::pointer);
            PinnedBuffer p = new PinnedBuffer(ctx, 256);
            p.close();
            assertDoesNotThrow(p::close);
            CudaStream s = new CudaStream(ctx);
            s.close();
            assertDoesNotThrow(s::close);
            CudaEvent e = new CudaEvent(ctx, false);
            e.close();
            assertDoesNotThrow(e::close);
        }
    }

    @Test
    void deviceBuffer_tooLarge_throwsCudaExceptionNamingTheError() {
        try (CudaContext ctx = CudaContext.primary(0)) {
            MemoryLedger.Snapshot before = MemoryLedger.snapshot();
            CudaException e = assertThrows(CudaException.class, () -> new DeviceBuffer(ctx, ctx.totalMemory() * 4));
            assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
            assertTrue(e.getMessage().contains("cuMemAlloc"), e.getMessage());
            before.assertNoLeaks();
        }
    }

    @Test
    void event_beforeRecord_isComplete() {
        try (CudaContext ctx = CudaContext.primary(0); CudaEvent e = new CudaEvent(ctx)) {
            assertTrue(e.isComplete());
        }
    }

    @Test
    void context_onAnotherThread_worksAfterMakeCurrent() throws Exception {
        try (CudaContext ctx = CudaContext.primary(0); CudaStream stream = new CudaStream(ctx)) {
            Throwable[] failure = new Throwable[1];
            Thread t = new Thread(() -> {
                try (DeviceBuffer d = new DeviceBuffer(ctx, 1024)) {
                    d.fill(0, 1024, (byte) 1, stream);
                    stream.synchronize();
                } catch (Throwable e) {
                    failure[0] = e;
                }
            });
            t.start();
            t.join();
            assertEquals(null, failure[0]);
        }
    }
}
