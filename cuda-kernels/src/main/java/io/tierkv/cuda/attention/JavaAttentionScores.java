package io.tierkv.cuda.attention;

import io.tierkv.core.popularity.VectorSupport;
import java.nio.ByteBuffer;

/** The Java scores: the Vector API version when present, else the scalar one. */
public final class JavaAttentionScores {
    private JavaAttentionScores() {
    }

    /** The fastest Java implementation this JVM supports. */
    @SuppressWarnings("unchecked")
    public static AttentionScores<ByteBuffer> best() {
        if (!VectorSupport.available()) {
            return new SimpleAttentionScores();
        }
        try {
            return (AttentionScores<ByteBuffer>) Class.forName("io.tierkv.cuda.attention.VectorAttentionScores")
                    .getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("cannot load VectorAttentionScores although the Vector API is present", e);
        }
    }
}
