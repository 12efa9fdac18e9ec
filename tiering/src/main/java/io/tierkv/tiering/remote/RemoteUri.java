package io.tierkv.tiering.remote;

import java.util.ArrayList;
import java.util.List;

/**
 * Where the remote tier lives: {@code redis://host:port} (one server) or
 * {@code redis-cluster://host:port[,host:port...]} (a Redis Cluster; the listed nodes are seeds, the client
 * discovers the rest). An optional {@code /db} after a standalone address selects a database.
 *
 * @param cluster  whether the address is a Redis Cluster
 * @param nodes    {@code host:port} of each listed node, in order
 * @param database the database of a standalone server (0 unless given)
 * @param text     the URI as given, for messages
 */
public record RemoteUri(boolean cluster, List<HostPort> nodes, int database, String text) {

    /** One node's address. */
    public record HostPort(String host, int port) {
        @Override
        public String toString() {
            return host + ":" + port;
        }
    }

    public RemoteUri {
        nodes = List.copyOf(nodes);
    }

    /**
     * Parses a remote URI.
     *
     * @throws IllegalArgumentException naming what is wrong: the scheme, a missing or bad port, an empty host
     */
    public static RemoteUri parse(String uri) {
        if (uri == null || uri.isBlank()) {
            throw new IllegalArgumentException("remote URI must not be blank; expected redis://host:port or "
                    + "redis-cluster://host:port[,host:port]");
        }
        String s = uri.trim();
        boolean cluster;
        String rest;
        if (s.startsWith("redis://")) {
            cluster = false;
            rest = s.substring("redis://".length());
        } else if (s.startsWith("redis-cluster://")) {
            cluster = true;
            rest = s.substring("redis-cluster://".length());
        } else {
            throw new IllegalArgumentException("remote URI '" + uri + "' has an unknown scheme; expected redis://host:port "
                    + "or redis-cluster://host:port[,host:port]");
        }
        int database = 0;
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            String db = rest.substring(slash + 1);
            rest = rest.substring(0, slash);
            if (!db.isEmpty()) {
                if (cluster) {
                    throw new IllegalArgumentException("remote URI '" + uri + "': a Redis Cluster has no databases");
                }
                database = parseInt(db, "database", uri);
                if (database < 0) {
                    throw new IllegalArgumentException("remote URI '" + uri + "': database " + database + " is negative");
                }
            }
        }
        List<HostPort> nodes = new ArrayList<>();
        for (String part : rest.split(",", -1)) {
            nodes.add(hostPort(part.trim(), uri));
        }
        if (!cluster && nodes.size() != 1) {
            throw new IllegalArgumentException("remote URI '" + uri + "' lists " + nodes.size()
                    + " nodes; redis:// takes one (use redis-cluster:// for a cluster)");
        }
        return new RemoteUri(cluster, nodes, database, s);
    }

    private static HostPort hostPort(String part, String uri) {
        int colon = part.lastIndexOf(':');
        if (colon <= 0 || colon == part.length() - 1) {
            throw new IllegalArgumentException("remote URI '" + uri + "': node '" + part + "' must be host:port");
        }
        int port = parseInt(part.substring(colon + 1), "port", uri);
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("remote URI '" + uri + "': port " + port + " outside 1..65535");
        }
        String host = part.substring(0, colon);
        if (host.startsWith("[") || host.endsWith("]")) { // an IPv6 address: [::1]:6379
            if (!host.startsWith("[") || !host.endsWith("]") || host.length() < 3) {
                throw new IllegalArgumentException("remote URI '" + uri + "': node '" + part + "' has an unclosed IPv6 bracket;"
                        + " expected [address]:port");
            }
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException("remote URI '" + uri + "': node '" + part + "': an IPv6 address goes in brackets,"
                    + " [address]:port");
        }
        return new HostPort(host, port);
    }

    private static int parseInt(String s, String what, String uri) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("remote URI '" + uri + "': " + what + " '" + s + "' is not a number");
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
