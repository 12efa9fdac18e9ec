/**
 * Shared report writers for the measuring commands: a {@link io.tierkv.bench.report.Report} is a table
 * with settings that writes itself as JSON (Jackson), CSV and a Markdown table for the terminal;
 * {@link io.tierkv.bench.report.LineChart} draws PNG line plots with JFreeChart, headless.
 */
package io.tierkv.bench.report;
