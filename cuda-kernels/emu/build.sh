#!/usr/bin/env bash
# Builds the CPU emulator of the CUDA driver (README.md) as <out>/libcuda.so.1: driver.cpp, every kernel of
# src/main/cuda compiled as host C++ with cuda_emu.h, and a stub for every other driver function JCuda's native
# library links against (it fails with CUDA_ERROR_NOT_SUPPORTED and says which).
#
#   cuda-kernels/emu/build.sh [out-dir]      (default cuda-kernels/target/emu)
#
# Needs g++ (C++17), and for the stubs' list the JDK's jar tool and JCuda's native jar in the local Maven repository
# ($MAVEN_REPO, default ~/.m2/repository: there after any build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="$(dirname "$here")"
out="${1:-$module/target/emu}"
src="$module/src/main/cuda"
mkdir -p "$out/obj"
flags=(-std=c++17 -O2 -g -fPIC -ffp-contract=off -fno-strict-aliasing -Wno-unknown-pragmas -pthread
       -fsanitize=alignment -fno-sanitize-recover=alignment
       -I "$here" -I "$here/include")

objects=()
pids=()
for cu in "$src"/*.cu; do
    name="$(basename "$cu" .cu)"
    unit="$out/obj/$name.cpp"
    # The kernels' names: every extern "C" function of the preprocessed file (the device helpers are C++ functions).
    names="$(g++ "${flags[@]}" -x c++ -include cuda_emu.h -E "$cu" | tr '\n' ' ' \
        | grep -oE 'extern "C" +void +[A-Za-z_][A-Za-z0-9_]* *\(' | sed -E 's/.*void +([A-Za-z0-9_]+).*/\1/' | sort -u)"
    {
        echo '#include "cuda_emu.h"'
        echo '#include "emu_runtime.h"'
        echo "#include \"$cu\""
        for k in $names; do echo "EMU_KERNEL($k)"; done
    } > "$unit"
    g++ "${flags[@]}" -c "$unit" -o "$out/obj/$name.o" &
    pids+=($!)
    objects+=("$out/obj/$name.o")
done
g++ "${flags[@]}" -c "$here/driver.cpp" -o "$out/obj/driver.o" &
pids+=($!)
for pid in "${pids[@]}"; do wait "$pid"; done  # each one's status: set -e stops at a failed compile

# Stubs for the rest of the driver API that libJCudaDriver references.
jar="$(ls "${MAVEN_REPO:-$HOME/.m2/repository}"/org/jcuda/jcuda-natives/*/jcuda-natives-*-linux-x86_64.jar 2>/dev/null | tail -1 || true)"
stubs="$out/obj/stubs.cpp"
echo '#include <cstdio>' > "$stubs"
echo 'static int unsupported(const char* f) { fprintf(stderr, "tierkv-emu: %s is not emulated (CUDA_ERROR_NOT_SUPPORTED)\n", f); return 801; }' >> "$stubs"
jartool="$(command -v jar || { [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/jar" ] && echo "$JAVA_HOME/bin/jar"; } || true)"
if [ -z "$jartool" ]; then
    echo "emu: no jar tool (JDK) on PATH or in \$JAVA_HOME: no stubs; a driver call the emulator lacks then ends the JVM" >&2
elif [ -n "$jar" ]; then
    lib="$("$jartool" tf "$jar" | grep 'libJCudaDriver' | head -1)"
    (cd "$out/obj" && "$jartool" xf "$jar" "$lib" && mv "$lib" libJCudaDriver.so && rm -rf "${lib%%/*}")
    nm -D --defined-only "$out/obj/driver.o" 2>/dev/null | awk '{print $3}' > "$out/obj/defined.txt" || true
    nm --defined-only "$out/obj/driver.o" | awk '$2 == "T" {print $3}' >> "$out/obj/defined.txt"
    nm -D --undefined-only "$out/obj/libJCudaDriver.so" | awk '{print $2}' | grep -E '^cu' | sort -u \
        | grep -vxF -f "$out/obj/defined.txt" | while read -r f; do
        echo "extern \"C\" int $f() { return unsupported(\"$f\"); }" >> "$stubs"
    done
else
    echo "emu: no jcuda-natives jar in the local Maven repository: no stubs (run a Maven build first)" >&2
fi
g++ "${flags[@]}" -c "$stubs" -o "$out/obj/stubs.o"
g++ -shared -pthread -fsanitize=alignment -Wl,-soname,libcuda.so.1 -o "$out/libcuda.so.1" "${objects[@]}" "$out/obj/driver.o" "$out/obj/stubs.o"
echo "emu: built $out/libcuda.so.1 ($(cat "$out"/obj/*.cpp | grep -c '^EMU_KERNEL') kernels)"
