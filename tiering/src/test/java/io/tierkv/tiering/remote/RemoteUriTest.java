package io.tierkv.tiering.remote;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RemoteUriTest {
    @Test
    void standalone_oneNodeAndOptionalDatabase() {
        RemoteUri u = RemoteUri.parse("redis://10.0.0.5:6380/2");
        assertFalse(u.cluster());
        assertEquals(List.of(new RemoteUri.HostPort("10.0.0.5", 6380)), u.nodes());
        assertEquals(2, u.database());
        assertEquals(0, RemoteUri.parse("redis://localhost:6379").database());
    }

    @Test
    void cluster_seedNodesInOrder() {
        RemoteUri u = RemoteUri.parse("redis-cluster://a:7000,b:7001, c:7002");
        assertTrue(u.cluster());
        assertEquals(List.of(new RemoteUri.HostPort("a", 7000), new RemoteUri.HostPort("b", 7001),
                new RemoteUri.HostPort("c", 7002)), u.nodes());
    }

    @Test
    void badUris_sayWhatIsWrong() {
        assertMessage("unknown scheme", "http://h:1");
        assertMessage("must be host:port", "redis://host");
        assertMessage("is not a number", "redis://host:abc");
        assertMessage("outside 1..65535", "redis://host:70000");
        assertMessage("takes one", "redis://a:1,b:2");
        assertMessage("no databases", "redis-cluster://a:1/3");
        assertMessage("blank", " ");
        assertMessage("unclosed IPv6 bracket", "redis://[::1:6379");
        assertMessage("goes in brackets", "redis://::1:6379");
        assertMessage("is negative", "redis://h:1/-1");
    }

    @Test
    void ipv6_inBrackets_isTheAddressWithoutThem() {
        assertEquals(List.of(new RemoteUri.HostPort("::1", 6379)), RemoteUri.parse("redis://[::1]:6379").nodes());
    }

    @Test
    void config_rejectsNonPositiveTimeouts() {
        RemoteConfig c = RemoteConfig.of("redis://h:1");
        assertEquals(RemoteConfig.DEFAULT_LOOKUP_TIMEOUT, c.lookupTimeout());
        assertThrows(IllegalArgumentException.class, () -> c.withLookupTimeout(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> c.withTtl(Duration.ofSeconds(-1)));
        assertThrows(IllegalArgumentException.class, () -> c.withMaxInFlightWriteBytes(0));
    }

    private static void assertMessage(String fragment, String uri) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RemoteUri.parse(uri));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }
}
