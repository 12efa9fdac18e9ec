/**
 * The paper's experiment: every policy on the same reading-comprehension prompts, questions before and
 * after the passage, scored by exact match, with the cache's size, residency and traffic recorded.
 */
package io.tierkv.model.eval;
