/**
 * JMH microbenchmarks. They compile in every build but are only generated into runnable benchmarks
 * with the {@code jmh} profile (the JMH annotation processor stays out of the normal build):
 *
 * <pre>
 *   mvn -B -o -q -Pjmh -DskipTests package
 *   java -cp "bench/target/tierkv.jar:bench/target/lib/*" org.openjdk.jmh.Main PopularityBenchmark
 * </pre>
 *
 * See bench/README.md for every benchmark and the numbers measured on the development machine.
 */
package io.tierkv.bench.jmh;
