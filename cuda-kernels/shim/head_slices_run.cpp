// head_slices.cu as host C++ (cuda_shim.h), fed by HeadSlicesShimCheck.java (README.md here).
// stdin, per case: "n heads kvHeads cap capFrom logMin" (capFrom -1: none; logMin a double, -inf for no gate), then
// n * heads scores as the hex bits of floats. stdout, per case: the count chosen, then the n * kvHeads head mask bytes.
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda_shim.h"
#include "../src/main/cuda/head_slices.cu"

int main() {
    int n, heads, kvHeads, cap, capFrom;
    double logMin;
    while (scanf("%d %d %d %d %d %lf", &n, &heads, &kvHeads, &cap, &capFrom, &logMin) == 6) {
        std::vector<float> scores(n * heads);
        for (auto& x : scores) {
            unsigned bits;
            if (scanf("%x", &bits) != 1) return 2;
            memcpy(&x, &bits, 4);
        }
        std::vector<float> value(n * kvHeads);
        std::vector<unsigned char> mask(n * kvHeads, 7);  // poisoned: the kernel writes every byte
        int taken = -5;
        int from = capFrom;
        launch1(1024, [&] {
            head_slices(scores.data(), n, heads, kvHeads, cap, capFrom >= 0 ? &from : nullptr, logMin, value.data(), mask.data(),
                        &taken);
        });
        printf("%d", taken);
        for (auto m : mask) printf(" %d", m);
        printf("\n");
    }
    return 0;
}
