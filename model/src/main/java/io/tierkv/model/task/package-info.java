/**
 * The reading-comprehension suite: seeded prompts with a passage of fact sentences among filler and
 * four questions of one of the paper's four types (true/false, fill in the blank, multiple choice,
 * matching), placed before or after the passage, and an exact-match scorer.
 */
package io.tierkv.model.task;
