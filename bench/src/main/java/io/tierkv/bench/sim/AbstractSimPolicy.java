package io.tierkv.bench.sim;

/** Shared plumbing: the context, and a prefill that admits the prompt's blocks in position order. */
abstract class AbstractSimPolicy implements SimPolicy {
    protected SimContext context;
    protected Residency residency;

    @Override
    public void start(SimContext ctx) {
        if (this.context != null) {
            throw new IllegalStateException(name() + ": start() called twice");
        }
        this.context = ctx;
        this.residency = ctx.residency();
        onStart();
    }

    /** Called once from {@link #start}. */
    protected void onStart() {
    }

    /** Admits block 0 of every layer, then block 1, ...: the order in which prefill wrote them. */
    @Override
    public void prefill(int fullBlocks) {
        for (int b = 0; b < fullBlocks; b++) {
            for (int l = 0; l < context.layers(); l++) {
                admit(l, b);
            }
        }
    }

    @Override
    public String toString() {
        return name();
    }
}
