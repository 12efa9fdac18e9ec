package io.tierkv.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void write_createsTheDirectoryAndLeavesOnlyTheFinalFile() throws IOException {
        Path file = dir.resolve("a/b/out.json");
        AtomicFiles.write(file, new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(file));
        try (Stream<Path> s = Files.list(file.getParent())) {
            assertEquals(1, s.count(), "no temporary file is left behind");
        }
    }

    @Test
    void write_givesTheFileTheUsualPermissions_notATemporaryFilesOwnerOnlyOnes() throws IOException {
        Path plain = Files.createFile(dir.resolve("plain"));
        Path file = dir.resolve("atomic");
        AtomicFiles.write(file, new byte[] {1});
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.getFileStore(dir).supportsFileAttributeView("posix"));
        assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(file));
    }

    /** Issue 14: a run killed mid-write left a half file under the final name. */
    @Test
    void failedWrite_leavesTheOldFileWholeAndNoTemporary() throws IOException {
        Path file = dir.resolve("out.csv");
        Files.writeString(file, "old,complete\n");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(file, out -> {
            out.write("new,half".getBytes());
            throw new IOException("killed");
        }));
        assertEquals("killed", e.getMessage());
        assertEquals("old,complete\n", Files.readString(file));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(1, s.count());
        }
    }
}
