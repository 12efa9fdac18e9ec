package io.tierkv.model.generate;

/**
 * What one generation produced and what it cost.
 *
 * @param tokens         generated token ids (the end-of-sequence token included if it was produced)
 * @param promptTokens   prompt length
 * @param prefillNanos   time to process the prompt
 * @param decodeNanos    time for the generated tokens after the first
 * @param keptMean       live tokens per layer, mean over generation steps
 * @param keptFraction   live tokens per layer over the sequence length, mean over generation steps
 * @param keptPeak       live tokens per layer, peak
 * @param deviceBytesPeak peak bytes this sequence held on the device tier
 * @param hostBytesPeak  peak bytes this sequence held on the host tier
 */
public record GenerationResult(int[] tokens, int promptTokens, long prefillNanos, long decodeNanos,
                               double keptMean, double keptFraction, int keptPeak, long deviceBytesPeak, long hostBytesPeak) {

    /** Decode speed: tokens after the first per second (0 if fewer than two tokens: see {@link #decodeMeasured}). */
    public double decodeTokensPerSecond() {
        return decodeMeasured() ? (tokens.length - 1) / (decodeNanos / 1e9) : 0;
    }

    /** Whether there was a decode speed to measure: at least two tokens generated (the first comes from the prefill). */
    public boolean decodeMeasured() {
        return tokens.length >= 2 && decodeNanos > 0;
    }

    /** {@link #decodeTokensPerSecond} to one decimal, or "n/a" when it was not measured. */
    public String decodeRate() {
        return decodeMeasured() ? String.format(java.util.Locale.ROOT, "%.1f", decodeTokensPerSecond()) : "n/a";
    }

    /** Prefill speed in prompt tokens per second. */
    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? 0 : promptTokens / (prefillNanos / 1e9);
    }
}
