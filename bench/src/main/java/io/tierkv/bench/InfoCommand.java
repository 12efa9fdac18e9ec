package io.tierkv.bench;

import io.tierkv.core.popularity.VectorSupport;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.model.BundledModel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv info}: which backend is in use and why, and the versions of the libraries. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the backend in use and why, and library versions.")
final class InfoCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Override
    public Integer call() {
        if (output.out != null) {
            OutputOption.writableDirectory("--out", output.out);
        }
        BackendSelection backend = BackendSelection.select();
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("tierkv", String.valueOf(TierKv.class.getPackage().getImplementationVersion()));
        info.put("java", System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ", "
                + System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " cores)");
        info.put("backend", backend.backend().name().toLowerCase(java.util.Locale.ROOT) + " (" + backend.reason() + ")");
        info.put("vector", VectorSupport.describe());
        info.put("libtorch", version("org.bytedeco.pytorch.Tensor", "org.bytedeco:pytorch"));
        info.put("javacpp", version("org.bytedeco.javacpp.Pointer", "org.bytedeco:javacpp"));
        info.put("jcuda", version("jcuda.driver.JCudaDriver", "org.jcuda:jcuda"));
        info.put("djl-tokenizers", version("ai.djl.huggingface.tokenizers.HuggingFaceTokenizer", "ai.djl.huggingface:tokenizers"));
        info.put("agrona", version("org.agrona.concurrent.Agent", "org.agrona:agrona"));
        info.put("bundledModel", BundledModel.present() ? "present" : "absent (train one: tierkv train)");
        info.forEach((k, v) -> System.out.printf("%-15s %s%n", k, v));
        if (output.out != null) {
            Json.write(output.out.resolve("info.json"), info);
        }
        return 0;
    }

    /** The version of the jar a class came from: its manifest, else the jar's file name. */
    private static String version(String className, String artifact) {
        try {
            Class<?> c = Class.forName(className, false, InfoCommand.class.getClassLoader());
            String v = c.getPackage() == null ? null : c.getPackage().getImplementationVersion();
            if (v == null && c.getProtectionDomain().getCodeSource() != null) {
                String path = c.getProtectionDomain().getCodeSource().getLocation().getPath();
                v = path.substring(path.lastIndexOf('/') + 1).replace(".jar", "");
            }
            return artifact + " " + (v == null ? "(version unknown)" : v);
        } catch (ClassNotFoundException | LinkageError e) {
            return artifact + " not on the class path";
        }
    }
}
