// The launch's dynamic shared memory as an array `name` of T (16-byte aligned). A kernel declares it with this macro,
// not `extern __shared__`, so that the host-C++ builds of the kernels (cuda-kernels/shim, cuda-kernels/emu) can
// supply their own buffer.
#pragma once

#ifndef TIERKV_DYNAMIC_SHARED
#define TIERKV_DYNAMIC_SHARED(T, name) extern __shared__ __align__(16) T name[]
#endif
