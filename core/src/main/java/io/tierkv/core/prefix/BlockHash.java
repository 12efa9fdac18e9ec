package io.tierkv.core.prefix;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The content key of one full block of prompt tokens: a SHA-256 digest over the block's token ids, the
 * digest of the block before it and, at the root of the chain, the {@link PrefixNamespace} (model and KV
 * layout). Two blocks have equal hashes exactly when they hold the same tokens after the same prefix for the
 * same model and layout (up to SHA-256 collisions), so their keys and values are interchangeable.
 *
 * <p>Immutable; 32 bytes.
 */
public final class BlockHash {
    /** Bytes of a digest. */
    public static final int BYTES = 32;

    private final byte[] digest; // (32) SHA-256 output, never exposed

    BlockHash(byte[] digest) {
        if (digest.length != BYTES) {
            throw new IllegalArgumentException("a block hash has " + BYTES + " bytes, got " + digest.length);
        }
        this.digest = digest;
    }

    /** A copy of the 32 digest bytes. */
    public byte[] bytes() {
        return digest.clone();
    }

    /** Copies the first {@code length} digest bytes into {@code dst} at {@code offset}. */
    public void copyTo(byte[] dst, int offset, int length) {
        if (length < 0 || length > BYTES) {
            throw new IllegalArgumentException("length must be in [0, " + BYTES + "], was " + length);
        }
        System.arraycopy(digest, 0, dst, offset, length);
    }

    /** Whether the first {@code length} digest bytes equal {@code other[offset, offset + length)}. */
    public boolean matches(byte[] other, int offset, int length) {
        return Arrays.equals(digest, 0, length, other, offset, offset + length);
    }

    /** The digest in lower-case hex (64 characters). */
    public String hex() {
        return HexFormat.of().formatHex(digest);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockHash other && Arrays.equals(digest, other.digest);
    }

    @Override
    public int hashCode() {
        return (digest[0] & 0xff) | (digest[1] & 0xff) << 8 | (digest[2] & 0xff) << 16 | (digest[3] & 0xff) << 24;
    }

    @Override
    public String toString() {
        return "BlockHash[" + hex().substring(0, 16) + "]";
    }
}
