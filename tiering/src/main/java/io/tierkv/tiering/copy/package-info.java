/**
 * The asynchronous copy engine: block copies device->host (demotion) and host->device (promotion),
 * contiguous runs coalesced into one copy, completions reaped on the owner's thread. The CPU engine is a
 * copy thread (an Agrona agent) fed by a lock-free ring of primitive copy descriptors; the CUDA engine uses
 * {@code cuMemcpy*Async} on dedicated streams with events for completion.
 */
package io.tierkv.tiering.copy;
