// What a kernel translation unit needs to register its kernels with the emulator's driver (driver.cpp): the kernel's
// name, its parameters' sizes and which are pointers (deduced from the function's type), and a thunk that calls it
// with arguments unpacked from the driver's parameter buffer.
#pragma once
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

namespace emu {

constexpr int kMaxParams = 64;

struct KernelInfo {
    const char* name;
    void* function;
    int params;
    size_t sizes[kMaxParams];
    size_t aligns[kMaxParams];
    bool pointers[kMaxParams];
    // Calls `function` with parameter i read from args + offsets[i].
    void (*invoke)(void* function, const unsigned char* args, const size_t* offsets);
};

void registerKernel(const KernelInfo& info);

template <typename T> inline T load(const unsigned char* at) {
    std::remove_cv_t<T> v;
    memcpy(&v, at, sizeof(T));
    return v;
}

template <typename... A, size_t... I>
inline void callWith(void (*f)(A...), const unsigned char* args, const size_t* offsets, std::index_sequence<I...>) {
    f(load<A>(args + offsets[I])...);
}

template <typename... A> inline int add(const char* name, void (*f)(A...)) {
    static_assert(sizeof...(A) <= kMaxParams, "too many kernel parameters");
    KernelInfo info{};
    info.name = name;
    info.function = reinterpret_cast<void*>(f);
    info.params = (int) sizeof...(A);
    int i = 0;
    ((info.sizes[i] = sizeof(A), info.aligns[i] = alignof(A), info.pointers[i] = std::is_pointer_v<A>, i++), ...);
    info.invoke = [](void* fn, const unsigned char* args, const size_t* offsets) {
        callWith(reinterpret_cast<void (*)(A...)>(fn), args, offsets, std::index_sequence_for<A...>{});
    };
    registerKernel(info);
    return 0;
}

}  // namespace emu

#define EMU_KERNEL(name) static const int emu_registered_##name = emu::add(#name, &name);
