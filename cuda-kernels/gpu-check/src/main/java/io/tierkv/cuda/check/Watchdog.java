package io.tierkv.cuda.check;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The GPU check's deadline. A kernel that never finishes leaves the JVM waiting in a driver call that no interrupt
 * reaches; without this the check would sit there until whoever lent the GPU takes it back, and say nothing about where
 * it stopped. Each part of the check names itself ({@link #stage}); when the deadline passes, one line says which stage
 * was running and for how long, every thread's stack goes to {@code stacks.txt}, and the JVM halts with status 1 (no
 * shutdown hooks: one of them could wait on the same stuck context). What the finished stages wrote stays on disk.
 */
final class Watchdog {
    private static final long START = System.nanoTime();
    private static volatile String stage = "starting";
    private static volatile long stageStart = START;

    private Watchdog() {
    }

    /** Names the part of the check that runs from now on. */
    static void stage(String name) {
        stage = name;
        stageStart = System.nanoTime();
    }

    /** The stage now running. */
    static String stage() {
        return stage;
    }

    /** Seconds since the JVM loaded this class (the check's start). */
    static double elapsedSeconds() {
        return (System.nanoTime() - START) / 1e9;
    }

    /** Halts the check {@code seconds} after its start (0: never), reporting under {@code out}. */
    static void arm(int seconds, Path out) {
        if (seconds <= 0) {
            return;
        }
        Thread t = new Thread(() -> {
            long deadline = START + TimeUnit.SECONDS.toNanos(seconds);
            long left;
            while ((left = deadline - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(left);
                } catch (InterruptedException e) {
                    return;
                }
            }
            expire(seconds, out);
        }, "tierkv-gpu-check-deadline");
        t.setDaemon(true);
        t.start();
    }

    private static void expire(int seconds, Path out) {
        String line = String.format(Locale.ROOT, "GPU check: FAILED: deadline of %d s passed in stage '%s' (running for %.1f s);"
                + " thread stacks in %s", seconds, stage, (System.nanoTime() - stageStart) / 1e9, out.resolve("stacks.txt"));
        System.out.println(line);
        System.out.flush();
        try {
            StringBuilder stacks = new StringBuilder(line).append(System.lineSeparator());
            for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(false, false)) {
                stacks.append(info.getThreadName()).append(" (").append(info.getThreadState()).append(')').append(System.lineSeparator());
                for (StackTraceElement e : info.getStackTrace()) {
                    stacks.append("    at ").append(e).append(System.lineSeparator());
                }
            }
            Files.writeString(out.resolve("stacks.txt"), stacks);
        } catch (IOException | RuntimeException e) {
            System.out.println("  (the stacks could not be written: " + e + ")");
        }
        Runtime.getRuntime().halt(1);
    }
}
