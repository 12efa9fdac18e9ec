package io.tierkv.bench;

import picocli.CommandLine;

/** The version from the jar manifest (or "dev" when run from classes). */
final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = TierKv.class.getPackage().getImplementationVersion();
        return new String[] {
            "tierkv " + (v == null ? "dev" : v),
            "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"
        };
    }
}
