package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The packed argument buffer's layout: the driver's ABI (natural alignment, declaration order) and the extra array. */
class LaunchArgsTest {
    static final long BASE = 0x7f00_0000_1000L;

    static LaunchArgs over(ByteBuffer whole) {
        return new LaunchArgs(null, whole, BASE, whole.capacity() - LaunchArgs.ARGS_OFFSET);
    }

    @Test
    void arguments_areAlignedToTheirSize_inDeclarationOrder() {
        LaunchArgs a = over(ByteBuffer.allocate(LaunchArgs.ARGS_OFFSET + 80).order(ByteOrder.nativeOrder()));
        // like popularity_count_tokens(int*, int*, int, int*, int, u8*, int, int*) then a float
        a.clear().i64(0x1000).i64(0x2000).i32(8).i64(0x3000).i32(16).i64(0x4000).i32(300).i64(0x5000).f32(0.5f);
        ByteBuffer b = a.bytes();
        assertEquals(0x1000, b.getLong(0));
        assertEquals(0x2000, b.getLong(8));
        assertEquals(8, b.getInt(16));
        assertEquals(0x3000, b.getLong(24), "a pointer after an int is padded to 8");
        assertEquals(16, b.getInt(32));
        assertEquals(0x4000, b.getLong(40));
        assertEquals(300, b.getInt(48));
        assertEquals(0x5000, b.getLong(56));
        assertEquals(0.5f, b.getFloat(64), "a float right after");
        assertEquals(68, a.size());
    }

    @Test
    void header_isTheDriversExtraArray_pointingAtTheArgumentsAndTheirSize() {
        ByteBuffer whole = ByteBuffer.allocate(LaunchArgs.ARGS_OFFSET + 64).order(ByteOrder.nativeOrder());
        LaunchArgs a = over(whole);
        assertEquals(1L, whole.getLong(0), "CU_LAUNCH_PARAM_BUFFER_POINTER");
        assertEquals(BASE + LaunchArgs.ARGS_OFFSET, whole.getLong(8));
        assertEquals(2L, whole.getLong(16), "CU_LAUNCH_PARAM_BUFFER_SIZE");
        assertEquals(BASE + LaunchArgs.SIZE_OFFSET, whole.getLong(24));
        assertEquals(0L, whole.getLong(32), "CU_LAUNCH_PARAM_END");
        a.clear().i32(1).i32(2).i64(3);
        assertEquals(16, a.size());
        a.clear().i32(7);
        assertEquals(4, a.size(), "clear starts over");
    }

    @Test
    void overflow_andBadCapacity_areRefused() {
        LaunchArgs a = over(ByteBuffer.allocate(LaunchArgs.ARGS_OFFSET + 12));
        a.clear().i64(1).i32(2);
        assertThrows(IllegalStateException.class, () -> a.i32(3));
        assertThrows(IllegalArgumentException.class, () -> over(ByteBuffer.allocate(LaunchArgs.ARGS_OFFSET + 5000)));
    }
}
