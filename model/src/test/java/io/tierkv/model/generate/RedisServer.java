package io.tierkv.model.generate;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real {@code redis-server} for the model's remote-tier tests: started on a free loopback port in a
 * temporary directory without persistence, killed by the test or on close. Tests skip by assumption only where
 * {@code redis-server} is not installed ({@code .ci/run} installs it).
 */
public final class RedisServer implements AutoCloseable {
    /** A loaded 2-core machine may take a while to start a server: up to 30 s of 10 ms polls. */
    private static final int READY_POLLS = 3000;

    private final int port;
    private final Process process;

    private RedisServer(int port, Process process) {
        this.port = port;
        this.process = process;
    }

    public static void assumeInstalled() {
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

    public static RedisServer start(Path dir, String... extraArgs) throws IOException, InterruptedException {
        int port = freePort();
        Files.createDirectories(dir);
        List<String> cmd = new ArrayList<>(List.of("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString()));
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
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

    /**
     * A Redis Cluster of {@code masters} masters without replicas ({@code redis-cli --cluster create}) that keeps
     * serving the slots it still has when a master dies; returns once every node reports {@code cluster_state:ok}.
     */
    static List<RedisServer> startCluster(Path dir, int masters) throws IOException, InterruptedException {
        List<RedisServer> nodes = new ArrayList<>();
        List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
        try {
            for (int i = 0; i < masters; i++) {
                RedisServer n = start(dir.resolve("node" + i), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no");
                nodes.add(n);
                create.add("127.0.0.1:" + n.port);
            }
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            if (run(dir.resolve("cluster-create.log"), create) != 0) {
                throw new IOException("redis-cli --cluster create failed; see " + dir.resolve("cluster-create.log"));
            }
            for (RedisServer n : nodes) {
                boolean ok = false;
                for (int i = 0; i < READY_POLLS && !ok; i++) {
                    Path info = dir.resolve("cluster-info-" + n.port + ".txt");
                    run(info, List.of("redis-cli", "-p", String.valueOf(n.port), "cluster", "info"));
                    ok = Files.readString(info).contains("cluster_state:ok");
                    if (!ok) {
                        Thread.sleep(10);
                    }
                }
                if (!ok) {
                    throw new IOException("node " + n.port + " never reported cluster_state:ok");
                }
            }
            return nodes;
        } catch (IOException | RuntimeException e) {
            nodes.forEach(RedisServer::kill);
            throw e;
        }
    }

    /** The {@code redis-cluster://} URI naming two of the nodes (the client discovers the rest). */
    static String clusterUri(List<RedisServer> nodes) {
        return "redis-cluster://127.0.0.1:" + nodes.get(0).port + ",127.0.0.1:" + nodes.get(1).port;
    }

    private static int run(Path log, List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    public String uri() {
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
            if (bindable(p) && bindable(p + 10_000)) { // a cluster node also listens on port + 10000
                return p;
            }
        }
        throw new IOException("no free loopback port found");
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException taken) {
            return false;
        }
    }
}
