package io.tierkv.core.popularity;

/**
 * Whether the incubating Vector API can be used in this JVM. It needs
 * {@code --add-modules jdk.incubator.vector}, which the build passes to tests and {@code exec}; a plain
 * {@code java -jar} runs the scalar paths instead. {@code -Dtierkv.vector=false} forces them off.
 */
public final class VectorSupport {
    private static final boolean AVAILABLE = detect();

    private VectorSupport() {
    }

    /** True when {@code jdk.incubator.vector} is present and not switched off. */
    public static boolean available() {
        return AVAILABLE;
    }

    /** Why the Vector API is or is not used, for {@code tierkv info}. */
    public static String describe() {
        if (AVAILABLE) {
            return "Vector API on (jdk.incubator.vector)";
        }
        if (!Boolean.parseBoolean(System.getProperty("tierkv.vector", "true"))) {
            return "Vector API off (-Dtierkv.vector=false)";
        }
        return "Vector API off (add --add-modules jdk.incubator.vector to the JVM flags to use it)";
    }

    /** Instantiates a class that uses the Vector API, by name, so that nothing else links it. */
    static <T> T load(String className, Class<T> type) {
        try {
            return type.cast(Class.forName(className).getDeclaredConstructor().newInstance());
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("cannot load " + className + " although the Vector API is present", e);
        }
    }

    private static boolean detect() {
        if (!Boolean.parseBoolean(System.getProperty("tierkv.vector", "true"))) {
            return false;
        }
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }
}
