// The CPU emulator's CUDA driver: the part of libcuda.so.1's API that TierKV calls through JCuda, over host memory,
// running the kernels of src/main/cuda compiled as host C++ (README.md). Built as libcuda.so.1 by build.sh; a JVM
// started with its folder on LD_LIBRARY_PATH runs the CUDA backend, every launch, copy and graph of it, on the CPU.
//
// What it checks that a GPU would not report as clearly:
// - every copy and memset lies inside one allocation (device or pinned);
// - every pointer argument of a launch is null or points into an allocation;
// - the parameter buffer's size matches the kernel's signature (a Java-side packing error);
// - the dynamic shared memory fits what the function was allowed (cuFuncSetAttribute) and the device;
// - a read or write past the end of a device allocation hits a guard page (a crash, with the kernel on the stack);
// - device memory starts as NaN bytes (0xff), so that a kernel reading what nothing wrote is seen;
// - a CTA whose threads can never all meet at a barrier is reported, not hung;
// - a synchronisation, synchronous copy or allocation during a stream capture fails the capture, as on the device.
// Streams run in order at the call ("eager") unless TIERKV_EMU_STREAMS says "deferred" (work runs when the host waits
// for it) or "kernels-late" (launches run when the host waits, every other operation as early as its stream allows).
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_emu.h"
#include "emu_runtime.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef int CUdevice;

enum : int {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_INVALID_ADDRESS_SPACE = 717,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903,
};

// ---------------------------------------------------------------------------------------------------------------------
// Reporting

static void report(const char* format, ...) {
    va_list args;
    va_start(args, format);
    fputs("tierkv-emu: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(args);
}

static bool envIs(const char* name, const char* value) {
    const char* v = getenv(name);
    return v != nullptr && strcmp(v, value) == 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// Fibers: every CUDA thread of a CTA is a fiber with its own stack; a switch saves the callee-saved registers.

extern "C" void emu_switch(void** save, void* to);
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_switch, .-emu_switch
)");

EmuDim3 threadIdx{0, 0, 0};
EmuDim3 blockIdx{0, 0, 0};
EmuDim3 blockDim{1, 1, 1};
EmuDim3 gridDim{1, 1, 1};
unsigned char* emu_dynamic_shared = nullptr;
size_t emu_dynamic_shared_bytes = 0;

namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kPage = 4096;

enum class State { Ready, AtBarrier, AtWarp, Done };

constexpr int kSnapshots = 4;  // completed exchanges a warp's lanes may still be reading

struct Fiber {
    void* sp = nullptr;
    unsigned char* stack = nullptr;  // kStackBytes, a guard page below
    State state = State::Ready;
    unsigned tid = 0;
    EmuDim3 idx{0, 0, 0};
    void* waitsAt = nullptr;  // the code address of the barrier or intrinsic it waits in (for a deadlock's report)
    const EmuExchange* exchanged = nullptr;  // the values of its last completed exchange
    int heldSnapshot = -1;                   // the warp snapshot `exchanged` points into, or -1
    EmuExchange own;                         // `exchanged` when every snapshot was still held
};

struct Warp {
    unsigned live = 0;      // lanes that have not exited
    unsigned arrived = 0;   // lanes waiting in an exchange
    unsigned required = 0;  // the union of the waiting lanes' masks
    unsigned long long values[32];
    EmuExchange snapshots[kSnapshots];
    unsigned readers[kSnapshots] = {};  // lanes that may still read each snapshot
};

struct Cta {
    const emu::KernelInfo* kernel = nullptr;
    const unsigned char* args = nullptr;
    const size_t* offsets = nullptr;
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    std::vector<unsigned> ready;    // fibers to resume, in order (a queue from readyHead)
    size_t readyHead = 0;
    std::vector<unsigned> atBarrier;  // in arrival order
    unsigned live = 0;
    Fiber* current = nullptr;
    void* schedulerSp = nullptr;
    std::vector<unsigned char*> stacks;  // kept from CTA to CTA
    size_t sharedBytes = 0;              // the launch's dynamic shared memory, ending at a guard page
    bool addressSpaceFault = false;      // a global-space intrinsic was given a shared address (cuda_emu.h)
};

// The emulator's state is never destroyed: a thread may still run a kernel while the process exits (the GPU check's
// deadline ends the JVM in the middle of a launch), and static destructors would free what it uses.
Cta& g_cta = *new Cta();  // one CTA runs at a time, on the thread that holds g_lock


// TIERKV_EMU_ORDER=reverse: CTAs, and the threads within each, run from the last to the first, so that a thread that
// reads another's write without a barrier or warp intrinsic between them fails one way round or the other.
bool reverseThreads() {
    static const bool on = envIs("TIERKV_EMU_ORDER", "reverse");
    return on;
}


// The next fiber to resume, or null when none is ready.
Fiber* popReady() {
    if (g_cta.readyHead == g_cta.ready.size()) return nullptr;
    Fiber* f = &g_cta.fibers[g_cta.ready[g_cta.readyHead++]];
    if (g_cta.readyHead == g_cta.ready.size()) {
        g_cta.ready.clear();
        g_cta.readyHead = 0;
    }
    return f;
}

// Suspends the running fiber: switches straight to the next ready one, or back to the scheduler when none is.
void suspend() {
    Fiber* self = g_cta.current;
    Fiber* next = popReady();
    if (next == nullptr) {
        emu_switch(&self->sp, g_cta.schedulerSp);
        return;
    }
    g_cta.current = next;
    threadIdx = next->idx;
    emu_switch(&self->sp, next->sp);
}

// A fiber is done with the values of its last exchange once it reaches its next barrier, exchange or exit.
void dropSnapshot(Fiber& f) {
    if (f.heldSnapshot >= 0) {
        g_cta.warps[f.tid / 32].readers[f.heldSnapshot]--;
        f.heldSnapshot = -1;
    }
}

void releaseBarrierIfComplete() {
    if (!g_cta.atBarrier.empty() && g_cta.atBarrier.size() == g_cta.live) {
        if (reverseThreads()) std::reverse(g_cta.atBarrier.begin(), g_cta.atBarrier.end());
        for (unsigned t : g_cta.atBarrier) {
            Fiber& f = g_cta.fibers[t];
            f.state = State::Ready;
            if (&f != g_cta.current) g_cta.ready.push_back(t);
        }
        g_cta.atBarrier.clear();
    }
}

// Completes warp w's exchange when every live lane of the waiting lanes' masks has arrived.
void completeWarpIfReady(unsigned w) {
    Warp& warp = g_cta.warps[w];
    if (warp.arrived == 0) return;
    unsigned need = warp.required & warp.live;
    if ((warp.arrived & need) != need) return;
    int slot = -1;
    for (int i = 0; i < kSnapshots; i++) {
        if (warp.readers[i] == 0) {
            slot = i;
            break;
        }
    }
    EmuExchange result;
    result.lanes = warp.arrived;
    for (unsigned lane = 0; lane < 32; lane++) {
        result.values[lane] = (warp.arrived >> lane) & 1u ? warp.values[lane] : kEmuPoison;
    }
    if (slot >= 0) {
        warp.snapshots[slot] = result;
        warp.readers[slot] = (unsigned) __builtin_popcount(warp.arrived);
    }
    for (unsigned i = 0; i < 32; i++) {
        unsigned lane = reverseThreads() ? 31 - i : i;
        if (!((warp.arrived >> lane) & 1u)) continue;
        unsigned t = w * 32 + lane;
        Fiber& f = g_cta.fibers[t];
        if (slot >= 0) {
            f.exchanged = &warp.snapshots[slot];
            f.heldSnapshot = slot;
        } else {
            f.own = result;
            f.exchanged = &f.own;
        }
        f.state = State::Ready;
        if (&f != g_cta.current) g_cta.ready.push_back(t);
    }
    warp.arrived = 0;
    warp.required = 0;
}

void fiberMain() {
    Fiber* self = g_cta.current;
    g_cta.kernel->invoke(g_cta.kernel->function, g_cta.args, g_cta.offsets);
    dropSnapshot(*self);
    self->state = State::Done;
    g_cta.live--;
    unsigned w = self->tid / 32, lane = self->tid % 32;
    g_cta.warps[w].live &= ~(1u << lane);
    releaseBarrierIfComplete();
    completeWarpIfReady(w);
    suspend();
    abort();  // never resumed
}

extern "C" void emu_fiber_entry() { fiberMain(); }

void* initialStack(unsigned char* stack) {
    // Top of stack, 16-byte aligned; emu_switch pops six registers, then returns into emu_fiber_entry with
    // rsp % 16 == 8, as after a call.
    uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + kStackBytes) & ~uintptr_t(15);
    uint64_t* sp = reinterpret_cast<uint64_t*>(top) - 8;
    for (int i = 0; i < 6; i++) sp[i] = 0;
    sp[6] = reinterpret_cast<uint64_t>(&emu_fiber_entry);
    sp[7] = 0;
    return sp;
}

unsigned char* stackFor(size_t i) {
    std::vector<unsigned char*>& stacks = g_cta.stacks;
    while (stacks.size() <= i) {
        void* m = mmap(nullptr, kStackBytes + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            report("cannot map a fiber stack");
            abort();
        }
        mprotect(m, kPage, PROT_NONE);
        stacks.push_back(static_cast<unsigned char*>(m) + kPage);
    }
    return stacks[i];
}

// Runs one CTA to completion; false (with a report) when its threads deadlock.
bool runCta(const emu::KernelInfo& kernel, const unsigned char* args, const size_t* offsets, EmuDim3 block, EmuDim3 cta) {
    unsigned threads = block.x * block.y * block.z;
    g_cta.kernel = &kernel;
    g_cta.args = args;
    g_cta.offsets = offsets;
    g_cta.fibers.resize(threads);
    g_cta.warps.assign((threads + 31) / 32, Warp{});
    for (unsigned t = 0; t < threads; t++) {
        Fiber& f = g_cta.fibers[t];
        f.tid = t;
        f.idx = EmuDim3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
        f.state = State::Ready;
        f.stack = stackFor(t);
        f.sp = initialStack(f.stack);
        f.exchanged = nullptr;
        f.heldSnapshot = -1;
        g_cta.warps[t / 32].live |= 1u << (t % 32);
    }
    g_cta.live = threads;
    g_cta.atBarrier.clear();
    g_cta.ready.resize(threads);
    for (unsigned t = 0; t < threads; t++) g_cta.ready[t] = reverseThreads() ? threads - 1 - t : t;
    // Every __shared__ byte and the dynamic shared memory start as 0xff in each CTA (cuda_emu.h).
    memset(&__start_emu_shared, 0xff, (size_t) (&__stop_emu_shared - &__start_emu_shared));
    if (g_cta.sharedBytes > 0) memset(emu_dynamic_shared, 0xff, g_cta.sharedBytes);
    g_cta.readyHead = 0;
    blockIdx = cta;
    while (g_cta.live > 0) {
        if (Fiber* f = popReady()) {
            g_cta.current = f;
            threadIdx = f->idx;
            emu_switch(&g_cta.schedulerSp, f->sp);
        } else {
            unsigned barrier = 0, warp = 0;
            for (Fiber& f : g_cta.fibers) {
                barrier += f.state == State::AtBarrier;
                warp += f.state == State::AtWarp;
            }
            report("kernel %s, CTA (%u, %u, %u): deadlock, %u threads wait at __syncthreads and %u at a warp intrinsic "
                   "(a lane of the mask never arrives, or threads wait at different barriers)",
                   kernel.name, cta.x, cta.y, cta.z, barrier, warp);
            // Where they wait: threads grouped by code address (addr2line -e libcuda.so.1 -f -C ADDRESS - load base).
            std::map<void*, std::vector<unsigned>> at;
            for (Fiber& f : g_cta.fibers) {
                if (f.state != State::Done) at[f.waitsAt].push_back(f.tid);
            }
            for (auto& [address, tids] : at) {
                Dl_info info{};
                dladdr(address, &info);
                report("  %zu threads (first %u, last %u) wait at %s+%#lx", tids.size(), tids.front(), tids.back(),
                       info.dli_fname != nullptr ? info.dli_fname : "?",
                       (unsigned long) (static_cast<char*>(address) - static_cast<char*>(info.dli_fbase)));
            }
            for (size_t w = 0; w < g_cta.warps.size(); w++) {
                const Warp& wp = g_cta.warps[w];
                if (wp.arrived != 0) report("  warp %zu: live %#x, arrived %#x, required %#x", w, wp.live, wp.arrived, wp.required);
            }
            return false;
        }
    }
    return true;
}

}  // namespace

void emu_address_space_fault(const void* p, const char* intrinsic) {
    if (!g_cta.addressSpaceFault) {
        const Fiber* f = g_cta.current;
        report("kernel %s: %s given %p, a shared-memory address (a global-space access: CUDA_ERROR_INVALID_ADDRESS_SPACE"
               " on a GPU), thread (%u,%u,%u) of block (%u,%u,%u)", g_cta.kernel->name, intrinsic, p, f->idx.x, f->idx.y,
               f->idx.z, blockIdx.x, blockIdx.y, blockIdx.z);
    }
    g_cta.addressSpaceFault = true;
}

void emu_syncthreads() {
    Fiber* self = g_cta.current;
    self->waitsAt = __builtin_return_address(0);
    dropSnapshot(*self);
    self->state = State::AtBarrier;
    g_cta.atBarrier.push_back(self->tid);
    releaseBarrierIfComplete();
    if (self->state != State::Ready) suspend();
    self->state = State::Ready;
}

const EmuExchange* emu_warp_exchange(unsigned mask, unsigned long long value) {
    Fiber* self = g_cta.current;
    self->waitsAt = __builtin_return_address(0);
    dropSnapshot(*self);
    unsigned w = self->tid / 32, lane = self->tid % 32;
    Warp& warp = g_cta.warps[w];
    warp.values[lane] = value;
    warp.arrived |= 1u << lane;
    warp.required |= mask | (1u << lane);
    self->state = State::AtWarp;
    completeWarpIfReady(w);
    if (self->state != State::Ready) suspend();
    return self->exchanged;
}

// ---------------------------------------------------------------------------------------------------------------------
// Kernels

namespace {

std::unordered_map<std::string, emu::KernelInfo>& kernels() {
    static std::unordered_map<std::string, emu::KernelInfo> all;
    return all;
}

}  // namespace

void emu::registerKernel(const KernelInfo& info) { kernels()[info.name] = info; }

// ---------------------------------------------------------------------------------------------------------------------
// Memory: device and pinned allocations are host mappings; a device allocation ends at a guard page.

namespace {

enum class Kind { Device, Pinned };

struct Allocation {
    uintptr_t begin;
    size_t bytes;
    Kind kind;
    void* mapping;
    size_t mappingBytes;
};

std::mutex& g_lock = *new std::mutex();  // every driver call; a launch runs under it (never destroyed, as g_cta)
std::map<uintptr_t, Allocation>& g_allocations = *new std::map<uintptr_t, Allocation>();
size_t g_deviceBytes = 0;
size_t g_pinnedBytes = 0;

size_t totalDeviceBytes() {
    const char* v = getenv("TIERKV_EMU_DEVICE_MIB");
    return (v != nullptr ? strtoull(v, nullptr, 10) : 16384ull) << 20;
}

const Allocation* find(uintptr_t p) {
    auto it = g_allocations.upper_bound(p);
    if (it == g_allocations.begin()) return nullptr;
    --it;
    const Allocation& a = it->second;
    return p < a.begin + a.bytes ? &a : nullptr;
}

// True when [p, p + bytes) lies inside one allocation (of `kind` unless anyKind).
bool inside(uintptr_t p, size_t bytes, bool anyKind, Kind kind) {
    const Allocation* a = find(p);
    if (a == nullptr) return false;
    if (!anyKind && a->kind != kind) return false;
    return bytes <= a->begin + a->bytes - p;
}

CUresult allocate(size_t bytes, Kind kind, uintptr_t* out) {
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (kind == Kind::Device && g_deviceBytes + bytes > totalDeviceBytes()) return CUDA_ERROR_OUT_OF_MEMORY;
    size_t rounded = (bytes + 255) & ~size_t(255);
    size_t pages = (rounded + kPage - 1) & ~(kPage - 1);
    size_t mappingBytes = pages + kPage;
    void* m = mmap(nullptr, mappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    // The last page is a guard; the allocation (256-byte aligned, as cuMemAlloc's) ends as close to it as it can.
    mprotect(static_cast<unsigned char*>(m) + pages, kPage, PROT_NONE);
    uintptr_t begin = reinterpret_cast<uintptr_t>(m) + pages - rounded;
    if (kind == Kind::Device && !envIs("TIERKV_EMU_FILL", "zero")) memset(reinterpret_cast<void*>(begin), 0xff, rounded);
    g_allocations[begin] = Allocation{begin, bytes, kind, m, mappingBytes};
    (kind == Kind::Device ? g_deviceBytes : g_pinnedBytes) += bytes;
    *out = begin;
    return CUDA_SUCCESS;
}

void drainAll();

CUresult release(uintptr_t p, Kind kind) {
    drainAll();  // as cuMemFree, which waits for the device: queued work may still use the memory
    auto it = g_allocations.find(p);
    if (it == g_allocations.end() || it->second.kind != kind) {
        report("free of %#llx: no %s allocation starts there", (unsigned long long) p, kind == Kind::Device ? "device" : "pinned");
        return CUDA_ERROR_INVALID_VALUE;
    }
    (kind == Kind::Device ? g_deviceBytes : g_pinnedBytes) -= it->second.bytes;
    munmap(it->second.mapping, it->second.mappingBytes);
    g_allocations.erase(it);
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------------------------------------
// Streams, events, graphs

struct Graph;

struct Stream;

struct Event {
    bool recorded = false;
    std::chrono::steady_clock::time_point at{};
    bool capturedRecord = false;  // last recorded into a capture (a plain record there makes no graph node)
    Graph* capture = nullptr;     // that capture, while it lasts
    unsigned long long stream = 0;  // the id of the stream it was last recorded on, and the record's position there
    unsigned long long seq = 0;
    unsigned pendingRecords = 0;    // deferred record operations still queued (they write to this event)
};

struct Stream {
    unsigned long long id = 0;
    Graph* capture = nullptr;
    std::thread::id captureThread;
    bool invalidated = false;
    // Deferred mode: work enqueued and not yet run (positions executed + 1 .. enqueued).
    struct Op {
        std::function<CUresult()> run;
        bool kernel;  // a launch (of a kernel or a graph): TIERKV_EMU_STREAMS=kernels-late holds these back
    };
    std::deque<Op> pending;
    unsigned long long enqueued = 0;
    unsigned long long executed = 0;
    CUresult error = 0;  // the first failure of deferred work, returned by the next synchronisation
};

struct Graph {
    std::vector<std::function<CUresult()>> ops;
};

struct GraphExec {
    std::vector<std::function<CUresult()>> ops;
};

struct Function {
    const emu::KernelInfo* kernel;
    int maxDynamicShared = 48 * 1024;
};

struct Module {
    std::unordered_map<std::string, std::unique_ptr<Function>> functions;
};

Stream& g_defaultStream = *new Stream();  // these never destroyed either, as g_cta
std::vector<Stream*>& g_streams = *new std::vector<Stream*>{&g_defaultStream};  // every live stream
unsigned long long g_nextStreamId = 1;            // 0: none (the default stream's id is set at its first use)

// The live stream with this id, or null (an event may outlive the stream it was recorded on).
Stream* liveStream(unsigned long long id) {
    if (id == 0) return nullptr;
    for (Stream* s : g_streams) {
        if (s->id == id) return s;
    }
    return nullptr;
}
thread_local int t_capturing = 0;  // captures begun on this thread and not ended
std::vector<Stream*>& g_captures = *new std::vector<Stream*>();  // streams in capture mode

Stream* streamOf(void* handle) {
    if (handle != nullptr) return static_cast<Stream*>(handle);
    if (g_defaultStream.id == 0) g_defaultStream.id = g_nextStreamId++;
    return &g_defaultStream;
}

// Fails a call that may not run while this thread captures (and the capture with it).
CUresult refuseDuringCapture(const char* call) {
    if (t_capturing == 0) return CUDA_SUCCESS;
    report("%s during a stream capture: the capture is invalidated (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)", call);
    for (Stream* s : g_captures) {
        if (s->captureThread == std::this_thread::get_id()) s->invalidated = true;  // this thread's captures
    }
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

// TIERKV_EMU_STREAMS=deferred: stream work runs only when the host waits for it (a synchronisation, an event query,
// a free), as on a GPU that is always behind; the host's writes to pinned memory a queued copy or kernel still reads,
// and its reads of results it has not waited for, then see other bytes than in the eager default.
bool deferred() {
    static const bool on = envIs("TIERKV_EMU_STREAMS", "deferred");
    return on;
}

// TIERKV_EMU_STREAMS=kernels-late: launches run only when the host waits for them (as deferred), every other operation
// (copies, memsets, event records and waits) as soon as its stream's earlier work has run, as on a GPU whose copy engines
// are idle while its SMs are busy: a copy that must not overwrite (or read) what a queued kernel reads (or writes) runs
// before that kernel unless an event orders it after.
bool kernelsLate() {
    static const bool on = envIs("TIERKV_EMU_STREAMS", "kernels-late");
    return on;
}

// Runs s's work up to position `upTo`.
void drain(Stream* s, unsigned long long upTo) {
    while (s->executed < upTo && !s->pending.empty()) {
        std::function<CUresult()> op = std::move(s->pending.front().run);
        s->pending.pop_front();
        s->executed++;
        CUresult r = op();
        if (r != CUDA_SUCCESS && s->error == CUDA_SUCCESS) s->error = r;
    }
}

void drainAll() {
    for (bool more = true; more;) {
        more = false;
        for (Stream* s : std::vector<Stream*>(g_streams)) {
            if (!s->pending.empty()) {
                drain(s, s->enqueued);
                more = true;
            }
        }
    }
}

// Drains s and returns (and clears) its deferred failure.
CUresult finish(Stream* s) {
    drain(s, s->enqueued);
    CUresult r = s->error;
    s->error = CUDA_SUCCESS;
    return r;
}

// kernels-late: runs every stream's leading operations that are not launches (a wait for an event may run the launches
// it waits for), until none is left at the front of any stream.
void runEarlyWork() {
    for (bool more = true; more;) {
        more = false;
        for (Stream* s : std::vector<Stream*>(g_streams)) {
            while (!s->pending.empty() && !s->pending.front().kernel) {
                drain(s, s->executed + 1);
                more = true;
            }
        }
    }
}

// Runs `op` on `stream` now (eager), queues it (deferred, kernels-late), or records it into the stream's capture.
CUresult enqueue(void* stream, std::function<CUresult()> op, bool kernel = false) {
    Stream* s = streamOf(stream);
    if (s->capture != nullptr) {
        s->capture->ops.push_back(std::move(op));
        return CUDA_SUCCESS;
    }
    s->enqueued++;
    if (!deferred() && !kernelsLate()) {
        s->executed++;
        return op();
    }
    s->pending.push_back({std::move(op), kernel});
    if (kernelsLate() && !kernel) runEarlyWork();
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------------------------------------
// Launches

// The SMs the device reports (the launch plans size their grids by it): an H200's 132 unless TIERKV_EMU_SMS says.
int deviceSms() {
    static const int sms = [] {
        const char* v = getenv("TIERKV_EMU_SMS");
        int n = v != nullptr ? atoi(v) : 132;
        return n > 0 ? n : 132;
    }();
    return sms;
}
constexpr int kSharedPerBlock = 48 * 1024;
constexpr int kSharedOptIn = 232448;

CUresult runGrid(const emu::KernelInfo& kernel, const std::vector<unsigned char>& args, const std::vector<size_t>& offsets,
                 EmuDim3 grid, EmuDim3 block, unsigned sharedBytes) {
    blockDim = block;
    gridDim = grid;
    unsigned long long n = (unsigned long long) grid.x * grid.y * grid.z;
    // The dynamic shared memory ends (16-byte aligned) at a guard page: a kernel reading or writing past what the
    // launch asked for crashes there.
    static unsigned char* mapping = nullptr;
    static size_t mappingBytes = 0;
    size_t rounded = ((size_t) sharedBytes + 15) & ~size_t(15);
    size_t need = ((rounded + kPage - 1) & ~(kPage - 1)) + kPage;
    if (need > mappingBytes) {
        if (mapping != nullptr) munmap(mapping, mappingBytes);
        mapping = static_cast<unsigned char*>(mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (mapping == MAP_FAILED) {
            report("cannot map %zu bytes of dynamic shared memory", need);
            abort();
        }
        mappingBytes = need;
        mprotect(mapping + mappingBytes - kPage, kPage, PROT_NONE);
    }
    emu_dynamic_shared = mapping + mappingBytes - kPage - rounded;
    emu_dynamic_shared_bytes = rounded;
    g_cta.sharedBytes = rounded;
    g_cta.addressSpaceFault = false;
    bool failed = false;
    for (unsigned long long i = 0; i < n && !failed && !g_cta.addressSpaceFault; i++) {
        unsigned long long c = reverseThreads() ? n - 1 - i : i;
        EmuDim3 cta{(unsigned) (c % grid.x), (unsigned) ((c / grid.x) % grid.y), (unsigned) (c / ((unsigned long long) grid.x * grid.y))};
        failed = !runCta(kernel, args.data(), offsets.data(), block, cta);
    }
    emu_dynamic_shared = nullptr;
    emu_dynamic_shared_bytes = 0;
    if (g_cta.addressSpaceFault) return CUDA_ERROR_INVALID_ADDRESS_SPACE;
    return failed ? CUDA_ERROR_LAUNCH_FAILED : CUDA_SUCCESS;
}

// Copies. The device side (and both sides of a device-to-device copy) must lie inside one allocation, device or
// pinned (with unified addressing a pinned buffer is a device address too).
CUresult checkRange(const char* call, const char* side, uintptr_t p, size_t bytes) {
    if (bytes == 0 || inside(p, bytes, true, Kind::Device)) return CUDA_SUCCESS;
    const Allocation* a = find(p);
    if (a == nullptr) {
        report("%s: the %s range [%#llx, +%zu) starts in no device or pinned allocation", call, side, (unsigned long long) p, bytes);
    } else {
        report("%s: the %s range [%#llx, +%zu) runs %zu bytes past the end of its %zu-byte allocation", call, side,
               (unsigned long long) p, bytes, (size_t) (p + bytes - (a->begin + a->bytes)), a->bytes);
    }
    return CUDA_ERROR_INVALID_VALUE;
}

bool pageable(const void* host) { return find(reinterpret_cast<uintptr_t>(host)) == nullptr; }

template <typename T> CUresult memsetAsync(const char* call, CUdeviceptr dst, T value, size_t n, void* stream) {
    CUresult r = checkRange(call, "destination", dst, n * sizeof(T));
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, [=] {
        T* p = reinterpret_cast<T*>(dst);
        for (size_t i = 0; i < n; i++) p[i] = value;
        return (CUresult) CUDA_SUCCESS;
    });
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------
// The driver API (the names libJCudaDriver links against)

extern "C" {

#define LOCKED std::lock_guard<std::mutex> guard(g_lock)

CUresult cuInit(unsigned) {
    static bool once = [] {
        if (!envIs("TIERKV_EMU_QUIET", "1")) {
            report("CPU emulator of the CUDA driver (cuda-kernels/emu): %zu kernels, every launch runs on this host",
                   kernels().size());
        }
        return true;
    }();
    (void) once;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int* v) { *v = 13000; return CUDA_SUCCESS; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char* name, int len, CUdevice) {
    snprintf(name, (size_t) len, "TierKV CPU emulator (as an H200)");
    return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice) { *bytes = totalDeviceBytes(); return CUDA_SUCCESS; }

CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice) {
    switch (attribute) {
        case 1: *value = 1024; break;                  // max threads per block
        case 2: *value = 1024; break;                  // block dim x
        case 3: *value = 1024; break;
        case 4: *value = 64; break;
        case 5: *value = 2147483647; break;            // grid dim x
        case 6: *value = 65535; break;
        case 7: *value = 65535; break;
        case 8: *value = kSharedPerBlock; break;
        case 10: *value = 32; break;                   // warp size
        case 13: *value = 1980000; break;              // clock kHz
        case 16: *value = deviceSms(); break;
        case 19: *value = 1; break;                    // can map host memory
        case 36: *value = 2619000; break;              // memory clock kHz
        case 37: *value = 6144; break;                 // bus width
        case 38: *value = 60 * 1024 * 1024; break;     // L2
        case 39: *value = 2048; break;                 // threads per SM
        case 41: *value = 1; break;                    // unified addressing
        case 75: *value = 9; break;                    // compute capability
        case 76: *value = 0; break;
        case 81: *value = 233472; break;               // shared per SM
        case 97: *value = kSharedOptIn; break;         // shared per block, opt-in
        default: *value = 0; break;
    }
    return CUDA_SUCCESS;
}

// Contexts: one primary context; "current" is accepted and ignored.
static int g_context = 1;
CUresult cuDevicePrimaryCtxRetain(void** ctx, CUdevice) { *ctx = &g_context; return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) { return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(void*) { return CUDA_SUCCESS; }
CUresult cuCtxGetCurrent(void** ctx) { *ctx = &g_context; return CUDA_SUCCESS; }
CUresult cuCtxSynchronize() {
    LOCKED;
    CUresult r = refuseDuringCapture("cuCtxSynchronize");
    if (r != CUDA_SUCCESS) return r;
    drainAll();
    for (Stream* s : g_streams) {
        if (s->error != CUDA_SUCCESS && r == CUDA_SUCCESS) r = s->error;
        s->error = CUDA_SUCCESS;
    }
    return r;
}
CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    LOCKED;
    *total = totalDeviceBytes();
    *free = *total - g_deviceBytes;
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemAlloc");
    if (r != CUDA_SUCCESS) return r;
    uintptr_t at = 0;
    r = allocate(bytes, Kind::Device, &at);
    *p = at;
    return r;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemFree");
    return r != CUDA_SUCCESS ? r : release(p, Kind::Device);
}
CUresult cuMemHostAlloc(void** p, size_t bytes, unsigned) {
    LOCKED;
    uintptr_t at = 0;
    CUresult r = allocate(bytes, Kind::Pinned, &at);
    *p = reinterpret_cast<void*>(at);
    return r;
}
CUresult cuMemAllocHost_v2(void** p, size_t bytes) { return cuMemHostAlloc(p, bytes, 0); }
CUresult cuMemFreeHost(void* p) {
    LOCKED;
    return release(reinterpret_cast<uintptr_t>(p), Kind::Pinned);
}
CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* d, void* p, unsigned) {
    LOCKED;
    if (!inside(reinterpret_cast<uintptr_t>(p), 1, false, Kind::Pinned)) return CUDA_ERROR_INVALID_VALUE;
    *d = reinterpret_cast<CUdeviceptr>(p);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, void* stream) {
    LOCKED;
    CUresult r = checkRange("cuMemcpyHtoDAsync", "destination", dst, bytes);
    if (r != CUDA_SUCCESS) return r;
    if (streamOf(stream)->capture != nullptr && pageable(src)) {
        report("cuMemcpyHtoDAsync from pageable host memory cannot be captured");
        streamOf(stream)->invalidated = true;
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    if (pageable(src)) {  // the driver stages pageable bytes before it returns
        auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                                   static_cast<const unsigned char*>(src) + bytes);
        return enqueue(stream, [=] { memcpy(reinterpret_cast<void*>(dst), staged->data(), bytes); return (CUresult) CUDA_SUCCESS; });
    }
    return enqueue(stream, [=] { memcpy(reinterpret_cast<void*>(dst), src, bytes); return CUDA_SUCCESS; });
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, void* stream) {
    LOCKED;
    CUresult r = checkRange("cuMemcpyDtoHAsync", "source", src, bytes);
    if (r != CUDA_SUCCESS) return r;
    if (streamOf(stream)->capture != nullptr && pageable(dst)) {
        report("cuMemcpyDtoHAsync to pageable host memory cannot be captured");
        streamOf(stream)->invalidated = true;
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    r = enqueue(stream, [=] { memcpy(dst, reinterpret_cast<void*>(src), bytes); return CUDA_SUCCESS; });
    // To pageable memory the driver copies synchronously: the call returns after the stream's work and the copy.
    return r == CUDA_SUCCESS && pageable(dst) ? finish(streamOf(stream)) : r;
}
// CUDA_MEMCPY2D as cuda.h lays it out (memory types: 1 host, 2 device, 3 array, 4 unified).
struct Memcpy2D {
    size_t srcXInBytes, srcY;
    int srcMemoryType;
    const void* srcHost;
    CUdeviceptr srcDevice;
    void* srcArray;
    size_t srcPitch;
    size_t dstXInBytes, dstY;
    int dstMemoryType;
    void* dstHost;
    CUdeviceptr dstDevice;
    void* dstArray;
    size_t dstPitch;
    size_t WidthInBytes, Height;
};
CUresult cuMemcpy2DAsync_v2(const Memcpy2D* c, void* stream) {
    LOCKED;
    if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (c->srcMemoryType == 3 || c->dstMemoryType == 3) {
        report("cuMemcpy2DAsync: CUDA arrays are not emulated");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    size_t width = c->WidthInBytes, height = c->Height;
    if (height > 1 && (width > c->srcPitch || width > c->dstPitch)) {
        report("cuMemcpy2DAsync: rows of %zu bytes wider than a pitch (source %zu, destination %zu)", width, c->srcPitch, c->dstPitch);
        return CUDA_ERROR_INVALID_VALUE;
    }
    uintptr_t src = (c->srcMemoryType == 1 ? reinterpret_cast<uintptr_t>(c->srcHost) : c->srcDevice) + c->srcY * c->srcPitch + c->srcXInBytes;
    uintptr_t dst = (c->dstMemoryType == 1 ? reinterpret_cast<uintptr_t>(c->dstHost) : c->dstDevice) + c->dstY * c->dstPitch + c->dstXInBytes;
    size_t srcSpan = height == 0 ? 0 : c->srcPitch * (height - 1) + width, dstSpan = height == 0 ? 0 : c->dstPitch * (height - 1) + width;
    CUresult r = c->srcMemoryType == 1 ? CUDA_SUCCESS : checkRange("cuMemcpy2DAsync", "source", src, srcSpan);
    if (r == CUDA_SUCCESS && c->dstMemoryType != 1) r = checkRange("cuMemcpy2DAsync", "destination", dst, dstSpan);
    if (r != CUDA_SUCCESS) return r;
    bool pageableSrc = c->srcMemoryType == 1 && pageable(reinterpret_cast<void*>(src));
    bool pageableDst = c->dstMemoryType == 1 && pageable(reinterpret_cast<void*>(dst));
    if (streamOf(stream)->capture != nullptr && (pageableSrc || pageableDst)) {
        report("cuMemcpy2DAsync from or to pageable host memory cannot be captured");
        streamOf(stream)->invalidated = true;
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    size_t srcPitch = c->srcPitch, dstPitch = c->dstPitch;
    std::shared_ptr<std::vector<unsigned char>> staged;
    if (pageableSrc) {  // the driver stages pageable bytes before it returns
        staged = std::make_shared<std::vector<unsigned char>>(height * width);
        for (size_t y = 0; y < height; y++) memcpy(staged->data() + y * width, reinterpret_cast<void*>(src + y * srcPitch), width);
        src = reinterpret_cast<uintptr_t>(staged->data());
        srcPitch = width;
    }
    r = enqueue(stream, [=] {
        for (size_t y = 0; y < height; y++) {
            memmove(reinterpret_cast<void*>(dst + y * dstPitch), reinterpret_cast<void*>(src + y * srcPitch), width);
        }
        (void) staged;  // kept alive until the copy ran
        return (CUresult) CUDA_SUCCESS;
    });
    // To pageable memory the driver copies synchronously: the call returns after the stream's work and the copy.
    return r == CUDA_SUCCESS && pageableDst ? finish(streamOf(stream)) : r;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void* stream) {
    LOCKED;
    CUresult r = checkRange("cuMemcpyDtoDAsync", "destination", dst, bytes);
    if (r == CUDA_SUCCESS) r = checkRange("cuMemcpyDtoDAsync", "source", src, bytes);
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, [=] { memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes); return CUDA_SUCCESS; });
}
CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void* stream) {
    LOCKED;
    return enqueue(stream, [=] { memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes); return CUDA_SUCCESS; });
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemcpyHtoD");
    if (r == CUDA_SUCCESS) drainAll();  // after all queued work (the emulator does not model the legacy stream's independence)
    if (r == CUDA_SUCCESS) r = checkRange("cuMemcpyHtoD", "destination", dst, bytes);
    if (r == CUDA_SUCCESS) memcpy(reinterpret_cast<void*>(dst), src, bytes);
    return r;
}
CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemcpyDtoH");
    if (r == CUDA_SUCCESS) drainAll();  // after all queued work (the emulator does not model the legacy stream's independence)
    if (r == CUDA_SUCCESS) r = checkRange("cuMemcpyDtoH", "source", src, bytes);
    if (r == CUDA_SUCCESS) memcpy(dst, reinterpret_cast<void*>(src), bytes);
    return r;
}
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemcpyDtoD");
    if (r == CUDA_SUCCESS) drainAll();  // after all queued work (the emulator does not model the legacy stream's independence)
    if (r == CUDA_SUCCESS) r = checkRange("cuMemcpyDtoD", "destination", dst, bytes);
    if (r == CUDA_SUCCESS) r = checkRange("cuMemcpyDtoD", "source", src, bytes);
    if (r == CUDA_SUCCESS) memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes);
    return r;
}
CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemcpy");
    if (r == CUDA_SUCCESS) drainAll();  // after all queued work (the emulator does not model the legacy stream's independence)
    if (r == CUDA_SUCCESS) memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes);
    return r;
}

CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void* s) { LOCKED; return memsetAsync("cuMemsetD8Async", d, v, n, s); }
CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, void* s) { LOCKED; return memsetAsync("cuMemsetD16Async", d, v, n, s); }
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, void* s) { LOCKED; return memsetAsync("cuMemsetD32Async", d, v, n, s); }
CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemsetD8");
    return r != CUDA_SUCCESS ? r : memsetAsync("cuMemsetD8", d, v, n, nullptr);
}
CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
    LOCKED;
    CUresult r = refuseDuringCapture("cuMemsetD32");
    return r != CUDA_SUCCESS ? r : memsetAsync("cuMemsetD32", d, v, n, nullptr);
}
CUresult cuMemsetD2D8Async(CUdeviceptr dst, size_t pitch, unsigned char value, size_t width, size_t height, void* stream) {
    LOCKED;
    if (width > pitch) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = height == 0 ? CUDA_SUCCESS : checkRange("cuMemsetD2D8Async", "destination", dst, pitch * (height - 1) + width);
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, [=] {
        for (size_t row = 0; row < height; row++) memset(reinterpret_cast<void*>(dst + row * pitch), value, width);
        return (CUresult) CUDA_SUCCESS;
    });
}

// Streams
CUresult cuStreamCreate(void** stream, unsigned) {
    LOCKED;
    Stream* s = new Stream();
    s->id = g_nextStreamId++;
    g_streams.push_back(s);
    *stream = s;
    return CUDA_SUCCESS;
}
CUresult cuStreamCreateWithPriority(void** stream, unsigned flags, int) { return cuStreamCreate(stream, flags); }
CUresult cuStreamDestroy_v2(void* stream) {
    LOCKED;
    if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    Stream* s = static_cast<Stream*>(stream);
    finish(s);  // a destroyed stream's work still completes
    if (s->capture != nullptr) {  // destroyed mid-capture: the capture is gone with it
        delete s->capture;
        g_captures.erase(std::find(g_captures.begin(), g_captures.end(), s));
        t_capturing--;
    }
    g_streams.erase(std::find(g_streams.begin(), g_streams.end(), s));
    delete s;
    return CUDA_SUCCESS;
}
CUresult cuStreamSynchronize(void* stream) {
    LOCKED;
    if (streamOf(stream)->capture != nullptr) {
        report("cuStreamSynchronize of a stream in capture mode");
        streamOf(stream)->invalidated = true;
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    CUresult r = refuseDuringCapture("cuStreamSynchronize");
    return r != CUDA_SUCCESS ? r : finish(streamOf(stream));
}
CUresult cuStreamQuery(void* stream) {
    LOCKED;
    if (streamOf(stream)->capture != nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    return finish(streamOf(stream));
}
CUresult cuStreamWaitEvent(void* stream, void* event, unsigned) {
    LOCKED;
    if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    Event* e = static_cast<Event*>(event);
    Stream* s = streamOf(stream);
    if (s->capture != nullptr) {
        // Inside a capture only an event recorded in the same capture may be waited for: a wait on work outside it
        // would cross the capture's boundary (CUDA_ERROR_STREAM_CAPTURE_ISOLATION), and fails the capture.
        if (e->capturedRecord && e->capture == s->capture) return CUDA_SUCCESS;  // in order here already
        if (e->stream == 0 && !e->capturedRecord) return CUDA_SUCCESS;          // never recorded: no work to wait for
        report("cuStreamWaitEvent in a stream capture on an event recorded outside it: the capture is invalidated "
               "(CUDA_ERROR_STREAM_CAPTURE_ISOLATION; order the streams before the capture begins)");
        s->invalidated = true;
        return 905;
    }
    unsigned long long on = e->stream;
    unsigned long long seq = e->seq;
    if (on == 0) return CUDA_SUCCESS;  // nothing recorded: no wait
    // Waits for the event's record as of this call: later records of the same event do not count.
    return enqueue(stream, [on, seq] {
        if (Stream* t = liveStream(on)) drain(t, seq);
        return (CUresult) CUDA_SUCCESS;
    });
}
CUresult cuStreamBeginCapture_v2(void* stream, int) {
    LOCKED;
    Stream* s = streamOf(stream);
    if (stream == nullptr || s->capture != nullptr) return CUDA_ERROR_INVALID_VALUE;
    s->capture = new Graph();
    s->captureThread = std::this_thread::get_id();
    s->invalidated = false;
    g_captures.push_back(s);
    t_capturing++;
    return CUDA_SUCCESS;
}
CUresult cuStreamEndCapture(void* stream, void** graph) {
    LOCKED;
    Stream* s = streamOf(stream);
    if (s->capture == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
    Graph* g = s->capture;
    s->capture = nullptr;
    g_captures.erase(std::find(g_captures.begin(), g_captures.end(), s));
    t_capturing--;
    if (s->invalidated) {
        s->invalidated = false;
        delete g;
        *graph = nullptr;
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    *graph = g;
    return CUDA_SUCCESS;
}
CUresult cuStreamIsCapturing(void* stream, int* status) {
    LOCKED;
    Stream* s = streamOf(stream);
    *status = s->capture == nullptr ? 0 : (s->invalidated ? 2 : 1);
    return CUDA_SUCCESS;
}

// Events
CUresult cuEventCreate(void** event, unsigned) { *event = new Event(); return CUDA_SUCCESS; }
CUresult cuEventDestroy_v2(void* event) {
    LOCKED;
    if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    Event* e = static_cast<Event*>(event);
    if (e->pendingRecords > 0) drainAll();  // its queued record operations write to it
    delete e;
    return CUDA_SUCCESS;
}
CUresult cuEventRecord(void* event, void* stream) {
    LOCKED;
    if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    Event* e = static_cast<Event*>(event);
    Stream* s = streamOf(stream);
    if (s->capture != nullptr) {
        // A plain record in a capture only orders the capture's own streams: the graph's launches do not record it.
        e->capturedRecord = true;
        e->capture = s->capture;
        e->stream = 0;
        return CUDA_SUCCESS;
    }
    e->capturedRecord = false;
    e->capture = nullptr;
    e->stream = s->id;
    e->seq = s->enqueued + 1;
    e->pendingRecords++;
    return enqueue(stream, [e] {
        e->pendingRecords--;
        e->recorded = true;
        e->at = std::chrono::steady_clock::now();
        return (CUresult) CUDA_SUCCESS;
    });
}
CUresult cuEventRecordWithFlags(void* event, void* stream, unsigned) { return cuEventRecord(event, stream); }
CUresult cuEventQuery(void* event) {
    LOCKED;
    if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    Event* e = static_cast<Event*>(event);
    if (e->capturedRecord) {
        report("cuEventQuery of an event last recorded in a stream capture (CUDA_ERROR_CAPTURED_EVENT)");
        return 907;
    }
    if (Stream* s = liveStream(e->stream)) drain(s, e->seq);  // deferred: the work runs when the host asks
    return CUDA_SUCCESS;
}
CUresult cuEventSynchronize(void* event) {
    LOCKED;
    if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    Event* e = static_cast<Event*>(event);
    if (e->capturedRecord) {
        report("cuEventSynchronize of an event last recorded in a stream capture (CUDA_ERROR_CAPTURED_EVENT)");
        return 907;
    }
    if (Stream* s = liveStream(e->stream)) drain(s, e->seq);
    return CUDA_SUCCESS;
}
CUresult cuEventElapsedTime(float* ms, void* start, void* end) {
    LOCKED;
    Event* a = static_cast<Event*>(start);
    Event* b = static_cast<Event*>(end);
    if (a == nullptr || b == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (!a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
    return CUDA_SUCCESS;
}

// Graphs
CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
    LOCKED;
    if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
    GraphExec* e = new GraphExec();
    e->ops = static_cast<Graph*>(graph)->ops;
    *exec = e;
    return CUDA_SUCCESS;
}
CUresult cuGraphDestroy(void* graph) {
    LOCKED;
    delete static_cast<Graph*>(graph);
    return CUDA_SUCCESS;
}
CUresult cuGraphExecDestroy(void* exec) {
    LOCKED;
    drainAll();  // a queued launch of it still runs
    delete static_cast<GraphExec*>(exec);
    return CUDA_SUCCESS;
}
CUresult cuGraphLaunch(void* exec, void* stream) {
    LOCKED;
    if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
    GraphExec* e = static_cast<GraphExec*>(exec);
    return enqueue(stream, [e] {
        for (auto& op : e->ops) {
            CUresult r = op();
            if (r != CUDA_SUCCESS) return r;
        }
        return (CUresult) CUDA_SUCCESS;
    }, true);
}

// Modules and functions: every module holds every kernel of the emulator (the image passed in is not read).
CUresult cuModuleLoadData(void** module, const void*) { *module = new Module(); return CUDA_SUCCESS; }
CUresult cuModuleLoadDataEx(void** module, const void* image, unsigned, void*, void*) { return cuModuleLoadData(module, image); }
CUresult cuModuleUnload(void* module) {
    LOCKED;
    drainAll();
    delete static_cast<Module*>(module);
    return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(void** function, void* module, const char* name) {
    LOCKED;
    auto it = kernels().find(name);
    if (it == kernels().end()) {
        report("cuModuleGetFunction(%s): the emulator has no such kernel", name);
        return CUDA_ERROR_NOT_FOUND;
    }
    auto& slot = static_cast<Module*>(module)->functions[name];
    if (!slot) slot.reset(new Function{&it->second});
    *function = slot.get();
    return CUDA_SUCCESS;
}
CUresult cuFuncSetAttribute(void* function, int attribute, int value) {
    LOCKED;
    Function* f = static_cast<Function*>(function);
    if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (attribute == 8) {  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        if (value < 0 || value > kSharedOptIn) {
            report("cuFuncSetAttribute(%s, MAX_DYNAMIC_SHARED_SIZE_BYTES = %d): above the device's %d", f->kernel->name, value, kSharedOptIn);
            return CUDA_ERROR_INVALID_VALUE;
        }
        f->maxDynamicShared = value;
    }
    return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned sharedBytes, void* stream, void** kernelParams, void** extra) {
    LOCKED;
    Function* f = static_cast<Function*>(function);
    if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    const emu::KernelInfo& k = *f->kernel;
    if (gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535 || bx == 0 || by == 0 || bz == 0 || bz > 64
        || (unsigned long long) bx * by * bz > 1024) {
        report("kernel %s: grid (%u, %u, %u) block (%u, %u, %u) is not a valid launch", k.name, gx, gy, gz, bx, by, bz);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if ((int) sharedBytes > f->maxDynamicShared) {
        report("kernel %s: %u bytes of dynamic shared memory, the function is allowed %d (cuFuncSetAttribute)", k.name,
               sharedBytes, f->maxDynamicShared);
        return CUDA_ERROR_INVALID_VALUE;
    }
    // The arguments, laid out as the driver's parameter buffer: each at the next multiple of its size.
    std::vector<size_t> offsets(k.params);
    size_t end = 0;
    for (int i = 0; i < k.params; i++) {
        size_t align = k.aligns[i];
        offsets[i] = (end + align - 1) & ~(align - 1);
        end = offsets[i] + k.sizes[i];
    }
    std::vector<unsigned char> args(end + 8, 0);
    if (kernelParams != nullptr && extra != nullptr) {
        report("kernel %s: both kernelParams and extra given", k.name);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (kernelParams != nullptr) {
        for (int i = 0; i < k.params; i++) memcpy(args.data() + offsets[i], kernelParams[i], k.sizes[i]);
    } else if (extra != nullptr) {
        const unsigned char* buffer = nullptr;
        size_t size = (size_t) -1;
        for (int i = 0; extra[i] != nullptr; i += 2) {
            uintptr_t key = reinterpret_cast<uintptr_t>(extra[i]);
            if (key == 1) buffer = static_cast<const unsigned char*>(extra[i + 1]);
            else if (key == 2) size = *static_cast<const size_t*>(extra[i + 1]);
        }
        if (buffer == nullptr || size == (size_t) -1) {
            report("kernel %s: extra lacks CU_LAUNCH_PARAM_BUFFER_POINTER or _SIZE", k.name);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (size != end) {
            report("kernel %s takes %d parameters in %zu bytes; the launch passed %zu bytes", k.name, k.params, end, size);
            return CUDA_ERROR_INVALID_VALUE;
        }
        memcpy(args.data(), buffer, end);
    } else if (k.params > 0) {
        report("kernel %s: no arguments given for its %d parameters", k.name, k.params);
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (int i = 0; i < k.params; i++) {
        if (!k.pointers[i]) continue;
        uintptr_t p = 0;
        memcpy(&p, args.data() + offsets[i], 8);
        if (p != 0 && find(p) == nullptr) {
            report("kernel %s: argument %d (%#llx) points into no device or pinned allocation", k.name, i, (unsigned long long) p);
            return CUDA_ERROR_ILLEGAL_ADDRESS;
        }
    }
    const emu::KernelInfo* kernel = &k;
    EmuDim3 grid{gx, gy, gz}, block{bx, by, bz};
    return enqueue(stream, [kernel, args, offsets, grid, block, sharedBytes] {
        return runGrid(*kernel, args, offsets, grid, block, sharedBytes);
    }, true);
}

}  // extern "C"
