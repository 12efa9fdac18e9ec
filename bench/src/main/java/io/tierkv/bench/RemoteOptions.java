package io.tierkv.bench;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixNamespace;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.tiering.remote.RemoteConfig;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The remote tier's options, shared by the commands that run a model ({@code --remote URI} and its settings). */
final class RemoteOptions {
    @Option(names = "--remote", paramLabel = "URI", description = "A shared remote KV tier: redis://host:port[/db] or"
            + " redis-cluster://host:port[,host:port...]. Prompt prefixes found there are loaded instead of computed, and"
            + " computed prompt blocks are written there (default: none).")
    String uri;

    @Option(names = "--remote-timeout-ms", defaultValue = "200", paramLabel = "MS",
            description = "How long a prompt's lookup may wait; what has not arrived is a miss (default: ${DEFAULT-VALUE}).")
    long timeoutMillis;

    @Option(names = "--remote-ttl", defaultValue = "0", paramLabel = "SECONDS",
            description = "Expiry of written blocks in seconds, 0 for none (the store's maxmemory policy evicts; default: ${DEFAULT-VALUE}).")
    long ttlSeconds;

    @Option(names = "--remote-write", defaultValue = "always", paramLabel = "WHEN",
            description = "Which full prompt blocks are written: always, or seen-twice (offered twice by this process; default:"
                    + " ${DEFAULT-VALUE}).")
    String write;

    boolean enabled() {
        return uri != null;
    }

    /** The store's configuration from the options; bad values fail with the option named. */
    RemoteConfig config() {
        if (timeoutMillis <= 0) {
            throw new IllegalArgumentException("--remote-timeout-ms must be > 0, was " + timeoutMillis);
        }
        if (ttlSeconds < 0) {
            throw new IllegalArgumentException("--remote-ttl must be >= 0 seconds (0 = no expiry), was " + ttlSeconds);
        }
        RemoteConfig.WritePolicy policy = switch (write.toLowerCase(Locale.ROOT)) {
            case "always" -> RemoteConfig.WritePolicy.ALWAYS;
            case "seen-twice" -> RemoteConfig.WritePolicy.SEEN_TWICE;
            default -> throw new IllegalArgumentException("--remote-write must be always or seen-twice, was " + write);
        };
        RemoteConfig base;
        try {
            base = RemoteConfig.of(uri);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--remote " + uri + ": " + e.getMessage(), e);
        }
        return base.withLookupTimeout(Duration.ofMillis(timeoutMillis)).withTtl(Duration.ofSeconds(ttlSeconds))
                .withWritePolicy(policy).withWarnings(line -> System.err.println("tierkv: " + line)); // as the CLI's other warnings
    }

    /** Checks the options before any work; a no-op without {@code --remote}. */
    void validate() {
        if (enabled()) {
            config();
        }
    }

    /**
     * Opens the tier for blocks of the model in {@code modelDir} (fingerprinted by its config and weights) in
     * {@code layout}, or returns null without {@code --remote}. A store that is down does not fail this.
     */
    RemoteKvTier open(Path modelDir, KvLayout layout) throws IOException {
        if (!enabled()) {
            return null;
        }
        ModelFingerprint model = ModelFingerprint.of(modelDir, layout.dtype());
        return RemoteKvTier.open(config(), PrefixNamespace.of(model, layout));
    }

    /**
     * {@link #open(Path, KvLayout)} for the layout every {@code TieredSession} of this model uses: float32 KV in
     * blocks of {@code blockSize} tokens.
     */
    RemoteKvTier open(Path modelDir, LlamaConfig c, int blockSize) throws IOException {
        return open(modelDir, new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, blockSize));
    }
}
