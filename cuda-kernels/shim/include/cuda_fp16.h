// cuda_fp16.h for cuda_shim.h: __half as its 16 bits, converted exactly (round to nearest even on the way in).
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
