package io.tierkv.model.generate;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real {@code redis-server} for the model's remote-tier tests: started on a free loopback port in a
 * temporary directory without persistence, killed by the test or on close. Tests skip by assumption only where
 * {@code redis-server} is not installed ({@code .ci/run} installs it).
 */
final class RedisServer implements AutoCloseable {
    /** A loaded 2-core machine may take a while to start a server: up to 30 s of 10 ms polls. */
    private static final int READY_POLLS = 3000;

    private final int port;
    private final Process process;

    private RedisServer(int port, Process process) {
        this.port = port;
        this.process = process;
    }

    static void assumeInstalled() {
        boolean installed;
        try {
            Process p = new ProcessBuilder("redis-server", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            installed = p.waitFor() == 0;
        } catch (IOException e) {
            installed = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            installed = false;
        }
        Assumptions.assumeTrue(installed, "redis-server is not installed (apt-get install redis-server; .ci/run installs it)");
    }

    static RedisServer start(Path dir) throws IOException, InterruptedException {
        int port = freePort();
        Process p = new ProcessBuilder(List.of("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        for (int i = 0; i < READY_POLLS; i++) {
            if (!p.isAlive()) {
                throw new IOException("redis-server on port " + port + " exited with " + p.exitValue() + "; see " + dir.resolve("redis.log"));
            }
            if (accepts(port)) {
                return new RedisServer(port, p);
            }
            Thread.sleep(10);
        }
        p.destroyForcibly();
        throw new IOException("redis-server on port " + port + " did not start");
    }

    String uri() {
        return "redis://127.0.0.1:" + port;
    }

    /** Kills the server at once (SIGKILL), as a crash would. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        kill();
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int p = ThreadLocalRandom.current().nextInt(20_000, 50_000);
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p));
                return p;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free loopback port found");
    }
}
