package io.tierkv.cuda.driver;

import java.util.ArrayList;
import java.util.List;

/**
 * Resources taken one after another, closed in reverse order (the first failure is rethrown after all were tried). A
 * constructor that takes several native resources registers each as it gets it and, when a later one fails, gives back
 * those it got:
 *
 * <pre>{@code
 * Owned taken = new Owned();
 * try {
 *     this.module = taken.add(KernelModule.load(context, MODULE));
 *     this.args = taken.add(new LaunchArgs(context, 64));
 * } catch (RuntimeException | Error e) {
 *     taken.closeAfter(e);
 *     throw e;
 * }
 * }</pre>
 *
 * Not thread-safe.
 */
public final class Owned {
    private final List<AutoCloseable> resources = new ArrayList<>();

    /** Registers {@code resource} (closed after those registered before it) and returns it. */
    public <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
    }

    /** Closes every resource, newest first, and forgets them; throws the first failure once all were tried. */
    public void closeAll() {
        RuntimeException first = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException("cannot close " + resources.get(i), e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        resources.clear();
        if (first != null) {
            throw first;
        }
    }

    /** {@link #closeAll()} after {@code failure}, which the caller rethrows: a failure to close is suppressed into it. */
    public void closeAfter(Throwable failure) {
        try {
            closeAll();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }
}
