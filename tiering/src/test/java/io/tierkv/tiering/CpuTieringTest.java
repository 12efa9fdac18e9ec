package io.tierkv.tiering;

import io.tierkv.cuda.driver.Backend;

/** The tiering contract on the CPU backend (off-heap arenas, copy thread). */
class CpuTieringTest extends TieringContract {
    @Override
    Backend backend() {
        return Backend.CPU;
    }
}
