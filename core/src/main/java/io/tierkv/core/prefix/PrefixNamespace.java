package io.tierkv.core.prefix;

import io.tierkv.core.KvLayout;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The root of every block-hash chain: a SHA-256 digest of the {@link ModelFingerprint}, the whole
 * {@link KvLayout} (layers, KV heads, head dimension, dtype, block size) and the version of the chain's
 * definition. Blocks of two namespaces never share a hash, so KV is never reused across models, dtypes or
 * block sizes.
 */
public final class PrefixNamespace {
    /** Version of the hash chain's definition; bump it when {@link PrefixChain}'s bytes change. */
    public static final int CHAIN_VERSION = 1;

    private final KvLayout layout;
    private final ModelFingerprint model;
    private final byte[] digest; // (32) SHA-256 of version, model fingerprint, layout

    private PrefixNamespace(ModelFingerprint model, KvLayout layout, byte[] digest) {
        this.model = model;
        this.layout = layout;
        this.digest = digest;
    }

    /** The namespace of {@code model}'s KV cut as {@code layout}. */
    public static PrefixNamespace of(ModelFingerprint model, KvLayout layout) {
        if (model == null || layout == null) {
            throw new IllegalArgumentException("a prefix namespace needs a model fingerprint and a KV layout");
        }
        MessageDigest md = Sha256.newDigest();
        md.update(("tierkv-prefix-namespace v" + CHAIN_VERSION).getBytes(StandardCharsets.UTF_8));
        md.update(model.digest());
        String shape = "layers=" + layout.layers() + " kvHeads=" + layout.kvHeads() + " headDim=" + layout.headDim()
                + " dtype=" + layout.dtype().name() + " blockSize=" + layout.blockSize();
        md.update(shape.getBytes(StandardCharsets.UTF_8));
        return new PrefixNamespace(model, layout, md.digest());
    }

    public KvLayout layout() {
        return layout;
    }

    public ModelFingerprint model() {
        return model;
    }

    /** Tokens per block, the chain's stride. */
    public int blockSize() {
        return layout.blockSize();
    }

    /** A copy of the 32 digest bytes. */
    public byte[] digest() {
        return digest.clone();
    }

    /** Copies the first {@code length} digest bytes into {@code dst} at {@code offset}. */
    public void copyTo(byte[] dst, int offset, int length) {
        System.arraycopy(digest, 0, dst, offset, length);
    }

    /** Whether the first {@code length} digest bytes equal {@code other[offset, offset + length)}. */
    public boolean matches(byte[] other, int offset, int length) {
        return Arrays.equals(digest, 0, length, other, offset, offset + length);
    }

    /** The first 16 hex characters of the digest: short enough for key prefixes and logs. */
    public String id() {
        return HexFormat.of().formatHex(digest, 0, 8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PrefixNamespace other && Arrays.equals(digest, other.digest);
    }

    @Override
    public int hashCode() {
        return id().hashCode();
    }

    @Override
    public String toString() {
        return "PrefixNamespace[" + id() + " " + layout + "]";
    }
}
