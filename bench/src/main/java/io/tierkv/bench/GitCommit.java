package io.tierkv.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The git commit of the working directory's checkout, read from {@code .git} without running git. */
final class GitCommit {
    private GitCommit() {
    }

    /** The commit id, or null when the working directory is not in a git checkout (or it cannot be read). */
    static String find() {
        try {
            Path dir = Path.of("").toAbsolutePath();
            while (dir != null && !Files.exists(dir.resolve(".git"))) {
                dir = dir.getParent();
            }
            if (dir == null) {
                return null;
            }
            Path git = dir.resolve(".git");
            if (Files.isRegularFile(git)) { // a worktree: "gitdir: <path>"
                String line = Files.readString(git, StandardCharsets.UTF_8).trim();
                if (!line.startsWith("gitdir:")) {
                    return null;
                }
                git = dir.resolve(line.substring("gitdir:".length()).trim());
            }
            String head = Files.readString(git.resolve("HEAD"), StandardCharsets.UTF_8).trim();
            if (!head.startsWith("ref:")) {
                return head;
            }
            String ref = head.substring(4).trim();
            Path common = git;
            Path commonFile = git.resolve("commondir");
            if (Files.isRegularFile(commonFile)) {
                common = git.resolve(Files.readString(commonFile, StandardCharsets.UTF_8).trim()).normalize();
            }
            for (Path base : List.of(git, common)) {
                Path loose = base.resolve(ref);
                if (Files.isRegularFile(loose)) {
                    return Files.readString(loose, StandardCharsets.UTF_8).trim();
                }
            }
            Path packed = common.resolve("packed-refs");
            if (Files.isRegularFile(packed)) {
                for (String line : Files.readAllLines(packed, StandardCharsets.UTF_8)) {
                    if (line.endsWith(" " + ref)) {
                        return line.substring(0, line.indexOf(' '));
                    }
                }
            }
            return null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
