package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OwnedTest {

    /** A resource that records its closing in {@code log} and fails with {@code failure} when given one. */
    private static AutoCloseable resource(String name, List<String> log, RuntimeException failure) {
        return () -> {
            log.add(name);
            if (failure != null) {
                throw failure;
            }
        };
    }

    @Test
    void closeAll_closesNewestFirst_triesEveryOne_andThrowsTheFirstFailureWithTheOthersSuppressed() {
        List<String> log = new ArrayList<>();
        RuntimeException second = new IllegalStateException("b");
        RuntimeException first = new IllegalStateException("c");
        Owned owned = new Owned();
        owned.add(resource("a", log, null));
        owned.add(resource("b", log, second));
        owned.add(resource("c", log, first));

        RuntimeException thrown = assertThrows(RuntimeException.class, owned::closeAll);

        assertEquals(List.of("c", "b", "a"), log);
        assertSame(first, thrown);
        assertArrayEquals(new Throwable[] {second}, thrown.getSuppressed());
        owned.closeAll(); // forgotten once closed: nothing is closed twice
        assertEquals(3, log.size());
    }

    @Test
    void closeAfter_givesBackWhatAConstructorTook_andKeepsTheFailureItRethrows() {
        List<String> log = new ArrayList<>();
        RuntimeException closing = new IllegalStateException("sticky fault");
        Owned taken = new Owned();
        taken.add(resource("module", log, closing));
        taken.add(resource("args", log, null));
        Error failure = new OutOfMemoryError("no memory for the scratch");

        taken.closeAfter(failure);

        assertEquals(List.of("args", "module"), log);
        assertArrayEquals(new Throwable[] {closing}, failure.getSuppressed());
    }

    @Test
    void aCheckedFailureToClose_isWrapped_namingTheResource() {
        Owned owned = new Owned();
        AutoCloseable checked = new AutoCloseable() {
            @Override
            public void close() throws Exception {
                throw new java.io.IOException("disk");
            }

            @Override
            public String toString() {
                return "the trace file";
            }
        };
        owned.add(checked);

        IllegalStateException e = assertThrows(IllegalStateException.class, owned::closeAll);

        assertEquals("cannot close the trace file", e.getMessage());
        assertEquals("disk", e.getCause().getMessage());
    }
}
