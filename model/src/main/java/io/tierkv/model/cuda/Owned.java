package io.tierkv.model.cuda;

import java.util.ArrayList;
import java.util.List;

/** Resources taken one after another, closed in reverse order (the first failure is rethrown after all were tried). */
final class Owned {
    private final List<AutoCloseable> resources = new ArrayList<>();

    <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
    }

    void closeAll() {
        RuntimeException first = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException("cannot close " + resources.get(i), e);
                }
            }
        }
        resources.clear();
        if (first != null) {
            throw first;
        }
    }
}
