package io.tierkv.model.generate;

/**
 * The remote tier's use summed over many prompts (an evaluation's runs): each prompt's {@link RemotePrefill} is
 * {@linkplain #add added} once its prefill is done. The store's own figures (hits, bytes, latency) are in the
 * tier's {@link io.tierkv.tiering.remote.RemoteStats}; this counts what the prompts did with them.
 */
public final class RemoteTally {
    private int prompts;
    private long promptTokens;
    private long prefillTokensSkipped;
    private long blocksLoaded;
    private long blocksOffered;
    private long blocksSpilled;
    private long lookupNanos;
    private int promptsWithHits;

    /** Adds one prompt of {@code promptTokens} tokens whose prefill used {@code r}. */
    public void add(RemotePrefill r, int promptTokens) {
        prompts++;
        this.promptTokens += promptTokens;
        prefillTokensSkipped += r.skipped();
        blocksLoaded += r.loadedBlocks();
        blocksOffered += r.offeredBlocks();
        blocksSpilled += r.spilledBlocks();
        lookupNanos += r.lookupNanos();
        promptsWithHits += r.skipped() > 0 ? 1 : 0;
    }

    /** Forgets everything added (after untimed warm-up runs). */
    public void reset() {
        prompts = 0;
        promptTokens = 0;
        prefillTokensSkipped = 0;
        blocksLoaded = 0;
        blocksOffered = 0;
        blocksSpilled = 0;
        lookupNanos = 0;
        promptsWithHits = 0;
    }

    public int prompts() {
        return prompts;
    }

    /** Prompts that loaded at least one block. */
    public int promptsWithHits() {
        return promptsWithHits;
    }

    public long promptTokens() {
        return promptTokens;
    }

    /** Prompt tokens loaded from the remote tier instead of computed. */
    public long prefillTokensSkipped() {
        return prefillTokensSkipped;
    }

    /** Prompt tokens prefill computed. */
    public long prefillTokensComputed() {
        return promptTokens - prefillTokensSkipped;
    }

    /** Prompt blocks (all layers each) loaded. */
    public long blocksLoaded() {
        return blocksLoaded;
    }

    /** Prompt blocks written through after prefill. */
    public long blocksOffered() {
        return blocksOffered;
    }

    /** Prompt blocks written because the local tiers were about to free them. */
    public long blocksSpilled() {
        return blocksSpilled;
    }

    /** Time spent in the prompts' lookups. */
    public long lookupNanos() {
        return lookupNanos;
    }
}
