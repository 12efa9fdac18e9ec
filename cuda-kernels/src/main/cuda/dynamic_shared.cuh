// The launch's dynamic shared memory as an array `name` of T (16-byte aligned). A kernel declares it with this macro,
// not `extern __shared__`, so that the host-C++ build of the kernels (the driver emulator, cuda-kernels/emu) can
// supply its own buffer.
#pragma once

#ifndef TIERKV_DYNAMIC_SHARED
#define TIERKV_DYNAMIC_SHARED(T, name) extern __shared__ __align__(16) T name[]
#endif
