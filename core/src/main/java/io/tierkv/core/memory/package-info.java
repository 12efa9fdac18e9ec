/** Accounting of native memory (device, pinned host, off-heap), so that tests can prove nothing leaked. */
package io.tierkv.core.memory;
