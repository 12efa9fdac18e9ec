package io.tierkv.tiering.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RemoteStatsTest {
    @Test
    void stats_serialiseWithEveryCounterByName() throws Exception {
        RemoteStats s = new RemoteStats(1, 8, 6, 2, 1, 1, 5, 3, 1, 2, 600, 300, 10, 20, 30, 40, 50, 60);
        JsonNode json = new ObjectMapper().readTree(new ObjectMapper().writeValueAsString(s));
        assertEquals(6, json.get("hits").asLong());
        assertEquals(1, json.get("writesDropped").asLong());
        assertEquals(20, json.get("lookupP99Micros").asLong());
        assertEquals(18, json.size());
        assertEquals(0.75, s.hitRatio());
    }
}
