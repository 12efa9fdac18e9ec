package io.tierkv.tiering.copy;

/**
 * Receives finished copies, on the owner's thread, from {@link CopyEngine#reap()} (and from the engine's
 * own waits). One call per submitted run: slots {@code [srcSlot, srcSlot + slots)} were copied to
 * {@code [dstSlot, dstSlot + slots)}, or, when {@code ok} is false, the destination holds garbage and the
 * source is untouched.
 */
@FunctionalInterface
public interface CopySink {
    void copied(CopyDirection direction, int srcSlot, int dstSlot, int slots, boolean ok);
}
