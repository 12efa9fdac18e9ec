package io.tierkv.cuda.ops;

/** BF16 and F16 bit conversions (round to nearest even), for uploads and for the oracle. Java 17 has neither. */
public final class HalfFloats {
    private HalfFloats() {
    }

    /** The BF16 bits nearest to {@code f}. */
    public static short toBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) 0x7fc0;
        }
        return (short) ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
    }

    /** The float value of BF16 bits. */
    public static float fromBf16(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** The float value of IEEE binary16 bits. */
    public static float fromF16(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** The IEEE binary16 bits nearest to {@code f} (round to nearest even; overflow to infinity). */
    public static short toF16(float f) {
        int b = Float.floatToRawIntBits(f);
        int sign = (b >>> 16) & 0x8000;
        if (Float.isNaN(f)) {
            return (short) (sign | 0x7e00);
        }
        float a = Math.abs(f);
        if (a >= 65520f) {
            return (short) (sign | 0x7c00);
        }
        if (a < 0x1p-14f) { // subnormal or zero: multiples of 2^-24
            int m = Math.round(a * 0x1p24f); // ties away from zero; exact ties are rare enough for test data
            float scaled = a * 0x1p24f;
            if (scaled - Math.floor(scaled) == 0.5 && (m & 1) == 1) {
                m -= 1;
            }
            return (short) (sign | m);
        }
        int ab = Float.floatToRawIntBits(a);
        int exp = ((ab >>> 23) & 0xff) - 112;
        int mant = ab & 0x7fffff;
        int half = (exp << 10) | (mant >>> 13);
        int rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) {
            half++;
        }
        return (short) (sign | half);
    }

    /** {@code f} rounded to what {@code dtype} holds. */
    public static float round(float f, io.tierkv.core.DType dtype) {
        switch (dtype) {
            case BF16: return fromBf16(toBf16(f));
            case F16: return fromF16(toF16(f));
            default: return f;
        }
    }
}
