// The fused decode GEMVs of linear.cu (norm_gemv, norm_gemv_rope, norm_gemv_swiglu) as host C++ under cuda_shim.h,
// against the kernels they replace run the same way (rmsnorm, gemv, rope, silu_mul: bit for bit) and against a
// double-precision reference (within a bound from the magnitudes summed). Random cases over the three weight dtypes,
// the 16-byte and the element-by-element paths, and every warpsPerRow the host may choose; norm_gemv_rope's K and V
// written into a KV slot in each slab dtype against kv_append's bytes; and a prefill chunk's gemm, rmsnorm and rope over
// several rows. Exit 0 when all hold.
//
//   g++ -std=c++20 -O1 -pthread -I cuda-kernels/shim/include -o cuda-kernels/shim/fused_gemv_run cuda-kernels/shim/fused_gemv_run.cpp
//   cuda-kernels/shim/fused_gemv_run          (or `fused_gemv_run chunk`: the prefill chunk's cases only)
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cuda_shim.h"
#include "../src/main/cuda/decoder_ops.cu"
#include "../src/main/cuda/linear.cu"
#include <climits>
namespace step {  // decoder_step.cu's anonymous names would clash with decoder_ops.cu's in one translation unit
#include "../src/main/cuda/decoder_step.cu"
}

namespace {

std::mt19937 rng(20261202);

float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

// A 16-byte aligned array of n T (aligned_alloc; leaked: the runner is short-lived).
template <typename T> T* array(size_t n) {
    size_t bytes = (n * sizeof(T) + 63) / 64 * 64 + 64;
    return static_cast<T*>(aligned_alloc(64, bytes));
}

unsigned short toBf16(float f) {
    unsigned u = __float_as_uint(f);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short) (u >> 16);
}

// Weights W [rows][in] of dtype dt as bytes, and their values as doubles.
struct Weights {
    unsigned char* bytes;
    std::vector<double> value;
};

Weights weights(int dt, long long rows, int in) {
    long long n = rows * in;
    Weights w{array<unsigned char>(n * (dt == tierkv::kF32 ? 4 : 2)), std::vector<double>(n)};
    for (long long i = 0; i < n; i++) {
        float f = uniform(-0.5f, 0.5f);
        if (dt == tierkv::kF32) {
            reinterpret_cast<float*>(w.bytes)[i] = f;
            w.value[i] = f;
        } else if (dt == tierkv::kBF16) {
            unsigned short b = toBf16(f);
            reinterpret_cast<unsigned short*>(w.bytes)[i] = b;
            w.value[i] = tierkv::bf16Bits(b);
        } else {
            // a half with exponent 2^-6 .. 2^-2 and a random mantissa and sign
            unsigned short h = (unsigned short) (((rng() & 1u) << 15) | ((9u + rng() % 5u) << 10) | (rng() & 0x3ffu));
            reinterpret_cast<unsigned short*>(w.bytes)[i] = h;
            w.value[i] = tierkv::f16Bits(h);
        }
    }
    return w;
}

int failures = 0;

// Compares fused with unfused (bits) and with the reference (|fused - ref| <= bound[i]).
void check(const char* what, const float* fused, const float* unfused, const std::vector<double>& ref,
           const std::vector<double>& bound) {
    int differ = 0, far = 0;
    double worst = 0;
    for (size_t i = 0; i < ref.size(); i++) {
        if (__float_as_uint(fused[i]) != __float_as_uint(unfused[i])) differ++;
        double e = std::fabs(fused[i] - ref[i]);
        if (!(e <= bound[i])) far++;
        worst = std::max(worst, e / bound[i]);
    }
    printf("%-52s %5zu outputs: %d differ from unfused, %d outside the bound (worst %.3f of it)\n", what, ref.size(), differ, far,
           worst);
    if (differ || far) failures++;
}

const char* dtName(int dt) { return dt == tierkv::kF32 ? "f32" : dt == tierkv::kF16 ? "f16" : "bf16"; }

void gemvUnfused(int dt, const unsigned char* w, const float* x, float* y, const float* r, int out, int in, int wpr) {
    int grid = (out + 8 / wpr - 1) / (8 / wpr);
    launch(grid, 256, [&] {
        if (dt == tierkv::kF32) gemv_f32(w, x, y, r, out, in, wpr);
        else if (dt == tierkv::kF16) gemv_f16(w, x, y, r, out, in, wpr);
        else gemv_bf16(w, x, y, r, out, in, wpr);
    });
}

// x' and the per-element bound scale of a row's sum: xn (double) and sum |w| |xn|.
std::vector<double> normRef(const float* x, const float* nw, int in, float eps) {
    double ss = 0;
    for (int i = 0; i < in; i++) ss += (double) x[i] * x[i];
    double inv = 1.0 / std::sqrt(ss / in + eps);
    std::vector<double> xn(in);
    for (int i = 0; i < in; i++) xn[i] = x[i] * inv * nw[i];
    return xn;
}

void dotRef(const Weights& w, const std::vector<double>& xn, long long row, int in, double* sum, double* mag) {
    *sum = 0;
    *mag = 0;
    for (int i = 0; i < in; i++) {
        *sum += w.value[row * in + i] * xn[i];
        *mag += std::fabs(w.value[row * in + i] * xn[i]);
    }
}

struct Input {
    float* x;
    float* nw;
    float eps;
};

Input input(int in, bool misaligned) {
    float* x = array<float>(in + 1) + (misaligned ? 1 : 0);
    float* nw = array<float>(in);
    for (int i = 0; i < in; i++) {
        x[i] = uniform(-2, 2);
        nw[i] = uniform(0.5f, 1.5f);
    }
    return {x, nw, 1e-5f};
}

void plainCase(int dt, int out, int in, int wpr, bool misaligned, bool residual) {
    Weights w = weights(dt, out, in);
    Input a = input(in, misaligned);
    float* r = nullptr;
    if (residual) {
        r = array<float>(out);
        for (int i = 0; i < out; i++) r[i] = uniform(-1, 1);
    }
    float* xn = array<float>(in + 1) + (misaligned ? 1 : 0);  // the unfused GEMV takes the same path
    float* yu = array<float>(out);
    float* yf = array<float>(out);
    launch(1, 256, [&] { rmsnorm(a.x, xn, a.nw, tierkv::kF32, in, a.eps); });
    gemvUnfused(dt, w.bytes, xn, yu, r, out, in, wpr);
    int grid = (out + 8 / wpr - 1) / (8 / wpr);
    launch(grid, 256, [&] {
        if (dt == tierkv::kF32) norm_gemv_f32(w.bytes, a.x, a.nw, a.eps, yf, r, out, in, wpr);
        else if (dt == tierkv::kF16) norm_gemv_f16(w.bytes, a.x, a.nw, a.eps, yf, r, out, in, wpr);
        else norm_gemv_bf16(w.bytes, a.x, a.nw, a.eps, yf, r, out, in, wpr);
    });
    std::vector<double> xr = normRef(a.x, a.nw, in, a.eps), ref(out), bound(out);
    for (int o = 0; o < out; o++) {
        double s, m;
        dotRef(w, xr, o, in, &s, &m);
        ref[o] = s + (r ? r[o] : 0);
        bound[o] = 1e-5 * (m + (r ? std::fabs(r[o]) : 0)) + 1e-6;
    }
    char what[128];
    snprintf(what, sizeof what, "norm_gemv_%s out %d in %d warps %d%s%s", dtName(dt), out, in, wpr, misaligned ? " x+4B" : "",
             residual ? " +res" : "");
    check(what, yf, yu, ref, bound);
}

void ropeCase(int dt, int heads, int kvHeads, int headDim, int in, int wpr, int position, bool bias, int kvDtype) {
    int qRows = heads * headDim, kRows = kvHeads * headDim, out = qRows + 2 * kRows, half = headDim / 2, tableRows = position + 3;
    Weights w = weights(dt, out, in);
    Input a = input(in, false);
    float* b = nullptr;
    if (bias) {
        b = array<float>(out);
        for (int i = 0; i < out; i++) b[i] = uniform(-1, 1);
    }
    float* cosT = array<float>(tableRows * half);
    float* sinT = array<float>(tableRows * half);
    for (int i = 0; i < tableRows * half; i++) {
        double angle = uniform(0, 6.28f);
        cosT[i] = (float) std::cos(angle);
        sinT[i] = (float) std::sin(angle);
    }
    float* xn = array<float>(in);
    float* yu = array<float>(out);
    float* yf = array<float>(out);
    // a KV slot of 4 rows, poisoned; the token goes to row position % 4
    const int blockRows = 4, kvRow = position % blockRows, eb = kvDtype == tierkv::kF32 ? 4 : 2;
    const long long halfBytes = (long long) blockRows * kRows * eb;
    unsigned char* slotU = array<unsigned char>(2 * halfBytes);
    unsigned char* slotF = array<unsigned char>(2 * halfBytes);
    memset(slotU, 0xab, 2 * halfBytes);
    memset(slotF, 0xab, 2 * halfBytes);
    launch(1, 256, [&] { rmsnorm(a.x, xn, a.nw, tierkv::kF32, in, a.eps); });
    gemvUnfused(dt, w.bytes, xn, yu, b, out, in, wpr);
    int pairs = (heads + kvHeads) * half;
    launch((pairs + 255) / 256, 256, [&] { rope(yu, yu + qRows, 1, heads, kvHeads, headDim, position, cosT, sinT); });
    launch((kRows + 255) / 256, 256, [&] {
        step::kv_append(yu + qRows, yu + qRows + kRows, slotU, 2 * halfBytes, halfBytes, 0, kvRow, kRows, kvDtype, 1);
    });
    int grid = (out + 8 / wpr - 1) / (8 / wpr);
    const int qk = qRows + kRows;
    auto fused = [&](float* y, unsigned char* slot, int pos, int row, const int* params, long long slotBytes) {
        launch(grid, 256, [&] {
            if (dt == tierkv::kF32) norm_gemv_rope_f32(w.bytes, a.x, a.nw, a.eps, y, b, out, in, wpr, qk, headDim, pos, cosT, sinT, slot, halfBytes, row, kvDtype, params, slotBytes);
            else if (dt == tierkv::kF16) norm_gemv_rope_f16(w.bytes, a.x, a.nw, a.eps, y, b, out, in, wpr, qk, headDim, pos, cosT, sinT, slot, halfBytes, row, kvDtype, params, slotBytes);
            else norm_gemv_rope_bf16(w.bytes, a.x, a.nw, a.eps, y, b, out, in, wpr, qk, headDim, pos, cosT, sinT, slot, halfBytes, row, kvDtype, params, slotBytes);
        });
    };
    fused(yf, slotF, position, kvRow, nullptr, 0);
    long long slotDiffer = 0;
    for (long long i = 0; i < 2 * halfBytes; i++) slotDiffer += slotU[i] != slotF[i];
    // the same launch as a CUDA graph replays it: position, row and slot read from the device (slot 1 of a slab of 3,
    // slots 48 bytes apart beyond their K and V halves), the scalar arguments wrong on purpose; the outputs must be
    // the same bits and only slot 1's halves written
    const long long slotBytes = 2 * halfBytes + 48;
    unsigned char* slab = array<unsigned char>(3 * slotBytes);
    memset(slab, 0xab, 3 * slotBytes);
    int* params = array<int>(3);
    params[0] = position;
    params[1] = kvRow;
    params[2] = 1;
    float* yp = array<float>(out);
    fused(yp, slab, (position + 1) % tableRows, (kvRow + 1) % blockRows, params, slotBytes);
    long long paramsDiffer = 0;
    for (int o = 0; o < out; o++) paramsDiffer += memcmp(&yp[o], &yf[o], sizeof(float)) != 0;
    for (long long i = 0; i < 3 * slotBytes; i++) {
        unsigned char want = i >= slotBytes && i < slotBytes + 2 * halfBytes ? slotF[i - slotBytes] : 0xab;
        paramsDiffer += slab[i] != want;
    }
    std::vector<double> xr = normRef(a.x, a.nw, in, a.eps), lin(out), mag(out), ref(out), bound(out);
    for (int o = 0; o < out; o++) {
        dotRef(w, xr, o, in, &lin[o], &mag[o]);
        if (b) {
            lin[o] += b[o];
            mag[o] += std::fabs(b[o]);
        }
    }
    for (int o = 0; o < out; o++) {
        ref[o] = lin[o];
        bound[o] = 1e-5 * mag[o] + 1e-6;
        if (o < qRows + kRows) {
            int i = (o % headDim) % half;
            long long first = o - (o % headDim) + i;
            double c = cosT[position * half + i], s = sinT[position * half + i];
            ref[o] = (o % headDim) < half ? lin[first] * c - lin[first + half] * s : lin[first + half] * c + lin[first] * s;
            bound[o] = 1e-5 * (mag[first] + mag[first + half]) + 1e-6;
        }
    }
    char what[128];
    snprintf(what, sizeof what, "norm_gemv_rope_%s %dq/%dkv x %d in %d warps %d pos %d%s kv %s", dtName(dt), heads, kvHeads, headDim, in,
             wpr, position, bias ? " +bias" : "", dtName(kvDtype));
    check(what, yf, yu, ref, bound);
    printf("%-52s %5lld slot bytes: %lld differ from kv_append's\n", "  its K and V in the slot", 2 * halfBytes, slotDiffer);
    if (slotDiffer) failures++;
    printf("%-52s %5d outputs, %lld slab bytes: %lld differ\n", "  the same with position, row, slot read on the device", out,
           3 * slotBytes, paramsDiffer);
    if (paramsDiffer) failures++;
}

void swigluCase(int dt, int inter, int in, int wpr) {
    Weights w = weights(dt, 2LL * inter, in);
    Input a = input(in, false);
    float* xn = array<float>(in);
    float* gu = array<float>(2 * inter);
    float* yu = array<float>(inter);
    float* yf = array<float>(inter);
    launch(1, 256, [&] { rmsnorm(a.x, xn, a.nw, tierkv::kF32, in, a.eps); });
    gemvUnfused(dt, w.bytes, xn, gu, nullptr, 2 * inter, in, wpr);
    launch((inter + 255) / 256, 256, [&] { silu_mul(gu, gu + inter, yu, inter); });
    int grid = (2 * inter + 8 / wpr - 1) / (8 / wpr);
    launch(grid, 256, [&] {
        if (dt == tierkv::kF32) norm_gemv_swiglu_f32(w.bytes, a.x, a.nw, a.eps, yf, inter, in, wpr);
        else if (dt == tierkv::kF16) norm_gemv_swiglu_f16(w.bytes, a.x, a.nw, a.eps, yf, inter, in, wpr);
        else norm_gemv_swiglu_bf16(w.bytes, a.x, a.nw, a.eps, yf, inter, in, wpr);
    });
    std::vector<double> xr = normRef(a.x, a.nw, in, a.eps), ref(inter), bound(inter);
    for (int j = 0; j < inter; j++) {
        double g, gm, u, um;
        dotRef(w, xr, j, in, &g, &gm);
        dotRef(w, xr, inter + j, in, &u, &um);
        double sg = 1 / (1 + std::exp(-g));
        ref[j] = g * sg * u;
        // d/dg (g sigma(g)) <= 1.1; errors of 1e-5 relative in g and u
        bound[j] = 1e-5 * (1.1 * gm * std::fabs(u) + std::fabs(g * sg) * um) + 1e-6;
    }
    char what[128];
    snprintf(what, sizeof what, "norm_gemv_swiglu_%s inter %d in %d warps %d", dtName(dt), inter, in, wpr);
    check(what, yf, yu, ref, bound);
}

// A prefill chunk's launches: gemm over n rows (y aliasing its residual, as the decoder adds into the residual stream)
// against the double reference, and rmsnorm over n rows and rope over n tokens against the same kernels one row at a time
// (bit for bit).
void chunkCase(int dt, int n, int out, int in, int heads, int kvHeads, int headDim, int start) {
    Weights w = weights(dt, out, in);
    float* x = array<float>((size_t) n * in);
    float* y = array<float>((size_t) n * out);
    std::vector<float> r((size_t) n * out);
    for (long long i = 0; i < (long long) n * in; i++) x[i] = uniform(-2, 2);
    for (long long i = 0; i < (long long) n * out; i++) y[i] = r[i] = uniform(-1, 1);
    launch2((out + 63) / 64, (n + 63) / 64, 256, [&] {
        if (dt == tierkv::kF32) gemm_f32(x, w.bytes, y, y, n, out, in);
        else if (dt == tierkv::kF16) gemm_f16(x, w.bytes, y, y, n, out, in);
        else gemm_bf16(x, w.bytes, y, y, n, out, in);
    });
    int far = 0;
    double worst = 0;
    for (int t = 0; t < n; t++) {
        std::vector<double> xr(x + (long long) t * in, x + (long long) (t + 1) * in);
        for (int o = 0; o < out; o++) {
            double sum, mag;
            dotRef(w, xr, o, in, &sum, &mag);
            long long i = (long long) t * out + o;
            double e = std::fabs(y[i] - (sum + r[i]));
            double bound = 1e-5 * (mag + std::fabs(r[i])) + 1e-6;
            if (!(e <= bound)) far++;
            worst = std::max(worst, e / bound);
        }
    }
    // rmsnorm of n rows, rope of n tokens at start .. start + n - 1: each row as its own launch must give the same bits
    float* nw = array<float>(in);
    for (int i = 0; i < in; i++) nw[i] = uniform(0.5f, 1.5f);
    float* rows = array<float>((size_t) n * in);
    float* one = array<float>((size_t) n * in);
    launch(n, 256, [&] { rmsnorm(x, rows, nw, tierkv::kF32, in, 1e-5f); });
    for (int t = 0; t < n; t++) launch(1, 256, [&] { rmsnorm(x + (long long) t * in, one + (long long) t * in, nw, tierkv::kF32, in, 1e-5f); });
    long long differ = 0;
    for (long long i = 0; i < (long long) n * in; i++) differ += __float_as_uint(rows[i]) != __float_as_uint(one[i]);
    int half = headDim / 2, tableRows = start + n;
    float* cosT = array<float>((size_t) tableRows * half);
    float* sinT = array<float>((size_t) tableRows * half);
    for (long long i = 0; i < (long long) tableRows * half; i++) {
        cosT[i] = uniform(-1, 1);
        sinT[i] = uniform(-1, 1);
    }
    int qw = heads * headDim, kw = kvHeads * headDim;
    float* q = array<float>((size_t) n * qw);
    float* k = array<float>((size_t) n * kw);
    std::vector<float> q1((size_t) n * qw), k1((size_t) n * kw);
    for (long long i = 0; i < (long long) n * qw; i++) q[i] = q1[i] = uniform(-2, 2);
    for (long long i = 0; i < (long long) n * kw; i++) k[i] = k1[i] = uniform(-2, 2);
    long long pairs = (long long) n * (heads + kvHeads) * half;
    launch((int) ((pairs + 255) / 256), 256, [&] { rope(q, k, n, heads, kvHeads, headDim, start, cosT, sinT); });
    for (int t = 0; t < n; t++) {
        launch(1, 256, [&] { rope(q1.data() + (long long) t * qw, k1.data() + (long long) t * kw, 1, heads, kvHeads, headDim, start + t, cosT, sinT); });
    }
    for (long long i = 0; i < (long long) n * qw; i++) differ += __float_as_uint(q[i]) != __float_as_uint(q1[i]);
    for (long long i = 0; i < (long long) n * kw; i++) differ += __float_as_uint(k[i]) != __float_as_uint(k1[i]);
    // kv_append of the n rows into rows 2 .. n + 1 of slot 1 of a slab of 3 (blocks of n + 3) against one row at a time
    const int blockRows = n + 3, kvDtype = dt;
    const int elem = kvDtype == tierkv::kF32 ? 4 : 2;
    const long long halfBytes = (long long) blockRows * kw * elem, slotBytes = 2 * halfBytes + 32;
    unsigned char* slabRows = array<unsigned char>(3 * slotBytes);
    unsigned char* slabOne = array<unsigned char>(3 * slotBytes);
    memset(slabRows, 0xcd, 3 * slotBytes);
    memset(slabOne, 0xcd, 3 * slotBytes);
    float* vv = array<float>((size_t) n * kw);
    for (long long i = 0; i < (long long) n * kw; i++) vv[i] = uniform(-2, 2);
    launch((int) (((long long) n * kw + 255) / 256), 256, [&] { step::kv_append(k, vv, slabRows, slotBytes, halfBytes, 1, 2, kw, kvDtype, n); });
    for (int t = 0; t < n; t++) {
        launch(1, 256, [&] { step::kv_append(k + (long long) t * kw, vv + (long long) t * kw, slabOne, slotBytes, halfBytes, 1, 2 + t, kw, kvDtype, 1); });
    }
    for (long long i = 0; i < 3 * slotBytes; i++) differ += slabRows[i] != slabOne[i];
    printf("%-52s %5d rows x %d: %d outside the bound (worst %.2f of it); rows and tokens one by one: %lld differ\n",
           (std::string("gemm_") + dtName(dt) + " chunk, +res into y, rmsnorm, rope, kv_append").c_str(), n, out, far, worst, differ);
    if (far || differ) failures++;
}

}  // namespace

int main(int argc, char** argv) {
    const bool chunkOnly = argc > 1 && std::string(argv[1]) == "chunk";  // only the prefill chunk's cases
    for (int dt : {tierkv::kF32, tierkv::kF16, tierkv::kBF16}) {
        chunkCase(dt, 5, 70, 96, 3, 1, 16, 9);     // rows and outputs off the 64-row tiles, `in` off the 16-wide k tile
        chunkCase(dt, 64, 130, 64, 2, 2, 8, 0);    // a full row tile
        if (chunkOnly) continue;
        for (int wpr : {1, 2, 4, 8}) plainCase(dt, 37, 768, wpr, false, wpr == 2);
        plainCase(dt, 13, 100, 1, false, true);   // 100 * 2 bytes: the element-by-element path for 16-bit weights
        plainCase(dt, 11, 64, 2, true, false);    // x 4 bytes off 16: element by element
        for (int wpr : {1, 2, 4}) {
            ropeCase(dt, 4, 2, 16, 96, wpr, 5, wpr == 1, (dt + wpr) % 3);
            swigluCase(dt, 41, 96, wpr);
        }
        ropeCase(dt, 3, 1, 64, 200, 1, 0, true, tierkv::kBF16);  // one KV head, head dim 64, `in` off the 16-byte path for 16 bits
        swigluCase(dt, 7, 100, 2);
    }
    printf("%s\n", failures == 0 ? "all cases hold" : "FAILURES");
    return failures == 0 ? 0 : 1;
}
