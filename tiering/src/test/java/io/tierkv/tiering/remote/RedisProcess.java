package io.tierkv.tiering.remote;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} on a free loopback port in its own directory, started and stopped by a test
 * (no persistence), plus a minimal RESP client for raw commands. Skips nothing by itself: tests call
 * {@link #assumeInstalled()}.
 */
final class RedisProcess implements AutoCloseable {
    /** Generous bound for a server to answer after start (a loaded 2-core CI machine): 30 s of 10 ms polls. */
    private static final int READY_POLLS = 3000;

    private final Path dir;
    private final int port;
    private final List<String> extraArgs;
    private Process process;

    private RedisProcess(Path dir, int port, List<String> extraArgs) {
        this.dir = dir;
        this.port = port;
        this.extraArgs = List.copyOf(extraArgs);
    }

    static boolean installed() {
        try {
            Process p = new ProcessBuilder("redis-server", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static void assumeInstalled() {
        org.junit.jupiter.api.Assumptions.assumeTrue(installed(),
                "redis-server is not installed (apt-get install redis-server; .ci/run installs it)");
    }

    /** Starts a server in {@code dir} with extra {@code redis-server} arguments ({@code --name value} pairs). */
    static RedisProcess start(Path dir, String... extraArgs) throws IOException {
        RedisProcess r = new RedisProcess(dir, freePort(), List.of(extraArgs));
        r.restart();
        return r;
    }

    /** Starts a server in {@code dir} on {@code port}. */
    static RedisProcess startOnPort(Path dir, int port, String... extraArgs) throws IOException {
        RedisProcess r = new RedisProcess(dir, port, List.of(extraArgs));
        r.restart();
        return r;
    }

    int port() {
        return port;
    }

    String uri() {
        return "redis://127.0.0.1:" + port;
    }

    long pid() {
        return process.pid();
    }

    /** Starts the server (again) on the same port, empty, and waits until it answers PING. */
    void restart() throws IOException {
        Files.createDirectories(dir);
        List<String> cmd = new ArrayList<>(List.of("redis-server", "--port", String.valueOf(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
                "--protected-mode", "no"));
        cmd.addAll(extraArgs);
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.log").toFile())).start();
        for (int i = 0; i < READY_POLLS; i++) {
            if (!process.isAlive()) {
                throw new IOException("redis-server on port " + port + " exited with " + process.exitValue()
                        + "; see " + dir.resolve("redis.log"));
            }
            try {
                if ("PONG".equals(command("PING"))) {
                    return;
                }
            } catch (IOException notYet) {
                // still starting
            }
            sleepMillis(10);
        }
        throw new IOException("redis-server on port " + port + " did not answer PING");
    }

    /** Kills the server at once (SIGKILL), as a crash would. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** Stops (SIGSTOP) or continues (SIGCONT) the server: a server that stops answering without closing. */
    void signal(String signal) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("kill", "-" + signal, String.valueOf(process.pid())).start();
        if (p.waitFor() != 0) {
            throw new IOException("kill -" + signal + " " + process.pid() + " failed");
        }
    }

    /** Sends one command, returns the reply: status and bulk strings as text, integers as digits, null for nil. */
    String command(String... args) throws IOException {
        byte[][] b = new byte[args.length][];
        for (int i = 0; i < args.length; i++) {
            b[i] = args[i].getBytes(StandardCharsets.UTF_8);
        }
        byte[] reply = commandBytes(b);
        return reply == null ? null : new String(reply, StandardCharsets.UTF_8);
    }

    /** Sends one command of binary arguments; returns the reply's bytes (null for nil). */
    byte[] commandBytes(byte[]... args) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            for (byte[] a : args) {
                out.write(("$" + a.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(a);
                out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.flush();
            return readReply(s.getInputStream());
        }
    }

    private static byte[] readReply(InputStream in) throws IOException {
        int type = in.read();
        String line = readLine(in);
        switch (type) {
            case '+': case ':':
                return line.getBytes(StandardCharsets.UTF_8);
            case '-':
                throw new IOException("redis error: " + line);
            case '$': {
                int n = Integer.parseInt(line);
                if (n < 0) {
                    return null;
                }
                byte[] data = in.readNBytes(n);
                in.readNBytes(2);
                return data;
            }
            default:
                throw new IOException("unexpected reply type " + (char) type + " " + line);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) != '\r') {
            if (c < 0) {
                throw new IOException("connection closed mid-reply");
            }
            sb.append((char) c);
        }
        in.read();
        return sb.toString();
    }

    /** A loopback port that is free now, whose cluster bus port (+10000) is free too. */
    static int freePort() throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int p = ThreadLocalRandom.current().nextInt(20_000, 50_000);
            if (bindable(p) && bindable(p + 10_000)) {
                return p;
            }
        }
        throw new IOException("no free loopback port pair found");
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            try {
                signal("CONT");
            } catch (IOException ignored) {
                // best effort: it may not be stopped
            }
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
