package io.tierkv.model.eval;

/**
 * One line of the report: a policy, a question position (of round 1), a round ({@code 1}, {@code 2}, ...
 * or {@code all}) and a question type ({@code all} for every type). Accuracy, KV kept, the device shares
 * and the round's bytes are the round's; the session figures (prefill/decode bytes, recalls, frees, stalls,
 * host attention time, TPOT, decode speed, device peak) are those of the whole sessions the round belongs to.
 *
 * @param kvKeptMean      live tokens per layer during generation, mean over prompts, as a fraction of the sequence
 * @param kvKeptPeak      the largest live-token fraction of round 1's prompt seen
 * @param deviceBytesPeak the most device-tier bytes held at once
 * @param deviceBudgetPeak the most device-tier bytes held at once as a fraction of that prompt's device budget
 *                        (at most 1: the device arena is the budget)
 * @param deviceAttentionShare attention probability on device-resident keys, head-averaged, mean over the queries
 *                        after round 1's prompt (later rounds' chunks, every generated token; NaN if none)
 * @param deviceAttentionBound what the same number of device blocks would have served had they been each query's most
 *                        attended blocks: the ceiling of {@code deviceAttentionShare} for any placement
 * @param deviceAttentionTokenBound what the same number of device keys would have served had they been each query's most
 *                        attended keys: the ceiling for any placement at any block size
 * @param deviceTopkShare share of each head's top-8 attended positions found on the device
 * @param h2dBytes        bytes sent host to device during the round (all: the session), mean per prompt
 * @param d2hBytes        bytes sent device to host during the round (all: the session), mean per prompt
 * @param h2dPerToken     {@code h2dBytes} per generated token
 * @param d2hPerToken     {@code d2hBytes} per generated token
 * @param prefillH2d      session bytes host to device while prompt tokens went in, mean per prompt
 * @param prefillD2h      session bytes device to host while prompt tokens went in, mean per prompt
 * @param decodeH2d       session bytes host to device while generating, mean per prompt
 * @param decodeD2h       session bytes device to host while generating, mean per prompt
 * @param promotions      blocks recalled host to device per session, mean
 * @param frees           blocks freed (evicted or dropped) per session, mean
 * @param stallMs         time the decoder waited for copies per session, mean
 * @param hostAttentionMs time attending the host tier per session, mean (estimate, see {@code DecodeMetrics})
 * @param tpotP50Ms       time per output token, median over every decode step of the cell's sessions
 * @param tpotP90Ms       90th percentile
 * @param tpotP99Ms       99th percentile
 * @param tokensPerSecond decode speed, generated tokens per second over all sessions
 * @param hostReadFraction host-tier bytes the decode steps read over the bytes an exact read would have read
 *                        (1 in exact mode)
 * @param digestRecall    digest mode: share of the true top-k host positions that the selected blocks held, all
 *                        layers (NaN in exact mode)
 * @param digestRecallByLayer the same per layer, space-separated ({@code -} for a layer never measured)
 * @param digestBytesPeak the most bytes the block digests held at once (device tier; 0 in exact mode)
 */
public record EvalRow(String policy, String position, String round, String questionType, int correct, int total, double accuracy,
                      double kvKeptMean, double kvKeptPeak, long deviceBytesPeak, double deviceBudgetPeak,
                      double deviceAttentionShare, double deviceAttentionBound, double deviceAttentionTokenBound,
                      double deviceTopkShare, double h2dBytes, double d2hBytes,
                      double h2dPerToken, double d2hPerToken, double prefillH2d, double prefillD2h, double decodeH2d,
                      double decodeD2h, double promotions, double frees, double stallMs, double hostAttentionMs,
                      double tpotP50Ms, double tpotP90Ms, double tpotP99Ms, double tokensPerSecond, double hostReadFraction,
                      double digestRecall, String digestRecallByLayer, long digestBytesPeak) {
}
