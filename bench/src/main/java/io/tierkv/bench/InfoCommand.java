package io.tierkv.bench;

import io.tierkv.core.popularity.VectorSupport;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code tierkv info}: which backend is in use and why, and the versions of the libraries. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the backend in use and why, and library versions.")
final class InfoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.out.println("java      " + System.getProperty("java.version") + " " + System.getProperty("os.arch"));
        System.out.println("vector    " + VectorSupport.describe());
        return 0;
    }
}
