package io.tierkv.model.eval;

/**
 * One line of the report: a policy, a question position and a question type ({@code all} for every type).
 *
 * @param kvKeptMean      live tokens per layer during generation, mean over prompts, as a fraction of the prompt
 * @param kvKeptPeak      the largest live-token fraction seen
 * @param deviceBytesPeak the most device-tier bytes held at once
 * @param deviceBudgetPeak the most device-tier bytes held at once as a fraction of that prompt's device budget
 *                        (at most 1: the device arena is the budget)
 * @param h2dBytes        bytes promoted host to device, mean per prompt
 * @param d2hBytes        bytes demoted device to host, mean per prompt
 * @param tokensPerSecond decode speed, generated tokens per second over all prompts
 * @param hostReadFraction host-tier bytes the decode steps read over the bytes an exact read would have read
 *                        (1 in exact mode)
 * @param digestRecall    digest mode: share of the true top-k host positions that the selected blocks held, all
 *                        layers (NaN in exact mode)
 * @param digestRecallByLayer the same per layer, space-separated ({@code -} for a layer never measured)
 * @param digestBytesPeak the most bytes the block digests held at once (device tier; 0 in exact mode)
 */
public record EvalRow(String policy, String position, String questionType, int correct, int total, double accuracy,
                      double kvKeptMean, double kvKeptPeak, long deviceBytesPeak, double deviceBudgetPeak, double h2dBytes, double d2hBytes,
                      double tokensPerSecond, double hostReadFraction, double digestRecall, String digestRecallByLayer,
                      long digestBytesPeak) {
}
