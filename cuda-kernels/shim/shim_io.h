// The runners' text protocol with their Java checks: numbers in decimal, float and element bits in hex.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

inline unsigned hex() {
    unsigned v;
    if (scanf("%x", &v) != 1) exit(2);
    return v;
}

inline int integer() {
    int v;
    if (scanf("%d", &v) != 1) exit(2);
    return v;
}

inline float bitsFloat(unsigned u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// One line of floats as hex bits, space-separated.
inline void printFloats(const std::vector<float>& v) {
    for (size_t i = 0; i < v.size(); i++) {
        unsigned u;
        memcpy(&u, &v[i], 4);
        printf(i ? " %x" : "%x", u);
    }
    printf("\n");
}
