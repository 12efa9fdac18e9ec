package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReuseFenceTest {
    /** Records what the fence asked the driver to do. */
    static final class Log implements ReuseFence.Events<String> {
        final List<String> calls = new ArrayList<>();

        @Override
        public void record(String stream) {
            calls.add("record " + stream);
        }

        @Override
        public void streamWait(String stream) {
            calls.add("wait " + stream);
        }

        @Override
        public void hostWait() {
            calls.add("host");
        }

        @Override
        public void close() {
            calls.add("close");
        }
    }

    @Test
    void firstUse_waitsForNothing() {
        Log log = new Log();
        ReuseFence<String> f = new ReuseFence<>(log);
        f.beforeHostWrite();
        f.beforeDeviceUse("a");
        assertEquals(List.of(), log.calls);
    }

    @Test
    void sameStream_reliesOnStreamOrder_otherStream_waitsForTheEvent() {
        Log log = new Log();
        ReuseFence<String> f = new ReuseFence<>(log);
        f.afterUse("a");
        f.beforeDeviceUse("a");
        f.afterUse("a");
        f.beforeDeviceUse("b");
        f.afterUse("b");
        assertEquals(List.of("record a", "record a", "wait b", "record b"), log.calls);
        assertEquals("b", f.lastStream());
    }

    @Test
    void hostWrite_afterAnyUse_waitsOnTheHost() {
        Log log = new Log();
        ReuseFence<String> f = new ReuseFence<>(log);
        f.afterUse("a");
        f.beforeHostWrite();
        f.close();
        assertEquals(List.of("record a", "host", "close"), log.calls);
    }
}
