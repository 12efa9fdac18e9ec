package io.tierkv.cuda.ops;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;
import io.tierkv.cuda.driver.Owned;

/**
 * What an op class loads first: its module, with the kernels it launches looked up (so that a jar built with other kernels
 * fails at construction, not at the first launch), and the buffer its launches pack their arguments into. Nothing stays
 * loaded or allocated when a step fails. The op class closes both.
 */
record LoadedModule(KernelModule module, LaunchArgs args) {
    static LoadedModule load(CudaContext context, String name, int argsBytes, String... kernels) {
        Owned taken = new Owned();
        try {
            KernelModule module = taken.add(KernelModule.load(context, name));
            for (String kernel : kernels) {
                module.function(kernel);
            }
            return new LoadedModule(module, taken.add(new LaunchArgs(context, argsBytes)));
        } catch (RuntimeException | Error e) {
            taken.closeAfter(e);
            throw e;
        }
    }
}
