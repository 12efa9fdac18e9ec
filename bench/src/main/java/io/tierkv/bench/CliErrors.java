package io.tierkv.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * What the command line prints for an exception: one line for a user's error (a bad value, a missing or
 * corrupt file, an output that cannot be written), and nothing (the exception goes on, stack trace and
 * all) for a bug. User errors are the {@link IllegalArgumentException} and {@link IOException} families
 * ({@link UncheckedIOException} included) and {@link IllegalStateException}; every one of them thrown by
 * TierKV names what is wrong. File-system exceptions, whose message is often just a path, get their kind
 * spelt out.
 */
final class CliErrors {
    private CliErrors() {
    }

    /** The one-line message of a user error, or null if {@code e} is not one. */
    static String userMessage(Throwable e) {
        if (e instanceof UncheckedIOException u && u.getCause() != null && !hasOwnMessage(u)) {
            return userMessage(u.getCause());
        }
        if (e instanceof FileSystemException f) {
            return fileSystem(f);
        }
        if (e instanceof IllegalArgumentException || e instanceof IOException || e instanceof UncheckedIOException
                || e instanceof IllegalStateException) {
            return oneLine(e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
        }
        return null;
    }

    private static boolean hasOwnMessage(UncheckedIOException u) {
        return u.getMessage() != null && !u.getMessage().equals(String.valueOf(u.getCause()));
    }

    private static String fileSystem(FileSystemException f) {
        String file = f.getFile();
        String reason = f.getReason();
        if (reason == null) {
            reason = f instanceof NoSuchFileException ? "no such file or directory"
                    : f instanceof AccessDeniedException ? "permission denied"
                    : f instanceof NotDirectoryException ? "not a directory"
                    : f.getClass().getSimpleName();
        }
        return oneLine((file == null ? "" : file + ": ") + reason + (f.getOtherFile() == null ? "" : " (" + f.getOtherFile() + ")"));
    }

    /** The first line of a message: one error, one line. */
    static String oneLine(String message) {
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl).stripTrailing();
    }
}
