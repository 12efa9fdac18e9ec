package io.tierkv.model.generate;

/** How the prompt enters the cache. */
public enum PrefillMode {
    /**
     * The paper's setting: the whole prompt in one dense pass, the policy active only while generating
     * (windows of 40 generated tokens).
     */
    PAPER,
    /**
     * The prompt streams in chunks of the policy window; the policy observes every prompt query and
     * closes windows as it goes, so a prompt larger than the device budget is processed under it.
     */
    CHUNKED;

    public static PrefillMode parse(String s) {
        for (PrefillMode m : values()) {
            if (m.name().equalsIgnoreCase(s)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown mode '" + s + "'; expected paper or chunked");
    }
}
