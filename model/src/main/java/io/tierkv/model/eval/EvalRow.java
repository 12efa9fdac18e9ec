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
 */
public record EvalRow(String policy, String position, String questionType, int correct, int total, double accuracy,
                      double kvKeptMean, double kvKeptPeak, long deviceBytesPeak, double deviceBudgetPeak, double h2dBytes, double d2hBytes,
                      double tokensPerSecond) {
}
