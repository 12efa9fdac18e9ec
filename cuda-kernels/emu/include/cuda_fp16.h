// cuda_fp16.h for the emulator (cuda_emu.h): __half as its 16 bits, converted exactly (round to nearest even on the way in).
#pragma once
#include <cstring>
struct __half { unsigned short bits; };
inline __half __ushort_as_half(unsigned short b) { return __half{b}; }
inline float __half2float(__half h) {
    unsigned sign = (h.bits & 0x8000u) << 16, exp = (h.bits >> 10) & 0x1f, man = h.bits & 0x3ffu, out;
    if (exp == 0x1f) {
        out = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        out = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        out = sign;
    } else {  // subnormal: normalise
        int e = 113;
        while ((man & 0x400u) == 0) { man <<= 1; e--; }
        out = sign | ((unsigned) e << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &out, 4);
    return f;
}
inline __half __float2half_rn(float f) {  // round to nearest even; overflow to inf, underflow through subnormals to 0
    unsigned u;
    memcpy(&u, &f, 4);
    unsigned short sign = (unsigned short) ((u >> 16) & 0x8000u);
    unsigned exp = (u >> 23) & 0xffu, man = u & 0x7fffffu;
    if (exp == 0xff) return __half{(unsigned short) (sign | 0x7c00u | (man ? 0x200u : 0))};
    int e = (int) exp - 127 + 15;
    if (e >= 0x1f) return __half{(unsigned short) (sign | 0x7c00u)};
    if (e <= 0) {
        if (e < -10) return __half{sign};
        man |= 0x800000u;
        int shift = 14 - e;
        unsigned h = man >> shift, rest = man & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (h & 1u))) h++;
        return __half{(unsigned short) (sign | h)};
    }
    unsigned h = ((unsigned) e << 10) | (man >> 13), rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;  // may carry into the exponent: still right
    return __half{(unsigned short) (sign | h)};
}
