package io.tierkv.tiering.remote;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Two JVMs share blocks through one Redis: a second process writes them, this one finds and loads them. */
class RemoteTierTwoProcessTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void requireRedis() {
        RedisProcess.assumeInstalled();
    }

    @Test
    void blocksWrittenByAnotherJvm_areFoundAndLoadedHere() throws Exception {
        long seed = 77;
        int blocks = 8;
        try (RedisProcess redis = RedisProcess.start(tmp.resolve("redis"))) {
            // C1 only: the writer is short-lived, and on a busy 2-core machine C2 doubles its start-up.
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            Path log = tmp.resolve("writer.log");
            Process writer = new ProcessBuilder(List.of(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
                    "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", cp, RemoteWriterProcess.class.getName(), redis.uri(), String.valueOf(seed),
                    String.valueOf(blocks)))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            assertTrue(writer.waitFor(120, TimeUnit.SECONDS), "the writer process finished");
            assertEquals(0, writer.exitValue(), Files.readString(log));
            assertTrue(Files.readString(log).contains("wrote " + blocks + " of " + blocks), Files.readString(log));

            int[] prompt = TestBlocks.tokens(TestBlocks.LAYOUT.blockSize() * blocks + 1, seed);
            TestBlocks expected = TestBlocks.random(TestBlocks.LAYOUT, blocks, seed);
            try (RemoteKvTier tier = RemoteKvTier.open(RemoteKvTierTest.patient(redis.uri()), TestBlocks.NAMESPACE)) {
                RemotePrefix hit = tier.lookup(prompt, prompt.length);
                assertEquals(blocks, hit.blocks());
                TestBlocks into = new TestBlocks(TestBlocks.LAYOUT, blocks);
                hit.copyInto(into);
                for (int b = 0; b < blocks; b++) {
                    assertArrayEquals(expected.block(b), into.block(b), "block " + b);
                }
            }
        }
    }
}
