// cuda_bf16.h for the emulator (cuda_emu.h): __nv_bfloat16 as its 16 bits, rounded to nearest even on the way in (NaN stays NaN).
#pragma once
#include <cstring>
struct __nv_bfloat16 { unsigned short bits; };
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    unsigned u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{(unsigned short) ((u >> 16) | 0x40u)};
    u += 0x7fffu + ((u >> 16) & 1u);
    return __nv_bfloat16{(unsigned short) (u >> 16)};
}
