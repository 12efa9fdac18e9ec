package io.tierkv.bench;

import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.RemoteTally;
import io.tierkv.tiering.remote.RemoteStats;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** How a command reports one prompt's use of the remote tier: one line for people, named fields for the JSON. */
final class RemoteReport {
    private RemoteReport() {
    }

    /** Time to first token in milliseconds: the prompt's processing (remote lookup and load included). */
    static double ttftMillis(GenerationResult g) {
        return g.prefillNanos() / 1e6;
    }

    /** The line printed after a generation with a remote tier. */
    static String line(RemotePrefill r, int promptTokens) {
        RemoteStats s = r.remote().stats();
        String noLookup = !r.computesWholePrompt() ? ""
                : " (nothing looked up: this prefill computes every prompt row, as chunked mode does for a policy that evicts, with"
                        + " --host-budget or digest reads, and the CUDA decoder's paper mode with --host-budget)";
        return String.format(Locale.ROOT, "remote tier: %d of %d prompt tokens loaded (prefillTokensSkipped %d), %d blocks hit,"
                        + " %d missed%s | lookup %.1f ms | read %s, written %s (%d blocks offered, %d spilled, %d writes dropped)",
                r.skipped(), promptTokens, r.skipped(), s.hits(), s.misses(), noLookup, r.lookupNanos() / 1e6, Bytes.format(s.bytesRead()),
                Bytes.format(s.bytesWritten()), r.offeredBlocks(), r.spilledBlocks(), s.writesDropped());
    }

    /** The line printed after many prompts (eval, demo) used a remote tier. */
    static String tallyLine(RemoteTally t, RemoteStats s) {
        return String.format(Locale.ROOT, "remote tier: %d of %d prompt tokens loaded (prefillTokensSkipped %d) over %d prompts, %d with"
                        + " hits (%d blocks offered, %d spilled) | the store, warm-up runs included: %d blocks hit, %d missed (hit ratio"
                        + " %.1f%%), read %s, written %s, %d writes dropped, lookup p50 %d us, p99 %d us",
                t.prefillTokensSkipped(), t.promptTokens(), t.prefillTokensSkipped(), t.prompts(), t.promptsWithHits(), t.blocksOffered(),
                t.blocksSpilled(), s.hits(), s.misses(), 100 * s.hitRatio(), Bytes.format(s.bytesRead()), Bytes.format(s.bytesWritten()),
                s.writesDropped(), s.lookupP50Micros(), s.lookupP99Micros());
    }

    /**
     * The remote tier's figures after many prompts, named as in {@link #put}: the prompts' counts are the timed
     * runs'; the store's ({@code remote}) include the warm-up runs.
     */
    static Map<String, Object> tally(RemoteTally t, RemoteStats s) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("prompts", t.prompts());
        json.put("promptsWithHits", t.promptsWithHits());
        json.put("promptTokens", t.promptTokens());
        json.put("prefillTokensSkipped", t.prefillTokensSkipped());
        json.put("prefillTokensComputed", t.prefillTokensComputed());
        json.put("remoteBlocksLoaded", t.blocksLoaded());
        json.put("remoteBlocksOffered", t.blocksOffered());
        json.put("remoteBlocksSpilled", t.blocksSpilled());
        json.put("remoteLookupMillis", t.lookupNanos() / 1e6);
        json.put("remoteHits", s.hits());
        json.put("remoteMisses", s.misses());
        json.put("remoteHitRatio", Double.isFinite(s.hitRatio()) ? s.hitRatio() : null);
        json.put("remoteBytesRead", s.bytesRead());
        json.put("remoteBytesWritten", s.bytesWritten());
        json.put("remoteLookupP50Micros", s.lookupP50Micros());
        json.put("remoteLookupP99Micros", s.lookupP99Micros());
        json.put("remoteLookupMaxMicros", s.lookupMaxMicros());
        json.put("remote", s);
        return json;
    }

    /** Adds the remote tier's figures to a command's JSON (after its writes were answered). */
    static void put(Map<String, Object> json, RemotePrefill r, int promptTokens) {
        RemoteStats s = r.remote().stats();
        json.put("prefillTokensSkipped", r.skipped());
        json.put("prefillTokensComputed", promptTokens - r.skipped());
        json.put("remoteHits", s.hits());
        json.put("remoteMisses", s.misses());
        json.put("remoteBytesRead", s.bytesRead());
        json.put("remoteBytesWritten", s.bytesWritten());
        json.put("remoteBlocksOffered", r.offeredBlocks());
        json.put("remoteBlocksSpilled", r.spilledBlocks());
        json.put("remoteLookupMillis", r.lookupNanos() / 1e6); // this prompt's lookup as the printed line gives it
        json.put("remoteLookupP50Micros", s.lookupP50Micros());
        json.put("remoteLookupP99Micros", s.lookupP99Micros());
        json.put("remoteLookupMaxMicros", s.lookupMaxMicros());
        json.put("remote", s);
    }
}
