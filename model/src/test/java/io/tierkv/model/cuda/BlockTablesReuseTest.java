package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.DType;
import io.tierkv.core.Tier;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.StreamingPolicy;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.tiering.Sequence;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * A tiered store keeps a layer's block tables from one token to the next when the sequence's residency version did not
 * move, updating only the tail block's rows. After every append the tables must still be what the sequence says now
 * (read block by block through {@link Sequence#tier} and {@link Sequence#slot}, not through its cached views), while
 * blocks open, move both ways, are freed and have rows masked, and after a sparse read compacted a host part.
 */
class BlockTablesReuseTest {
    private static final int LAYERS = 3;
    private static final int BLOCK = 16;
    private static final PagedKvShape SHAPE = new PagedKvShape(DType.BF16, 4, 2, 8, BLOCK, 2L * BLOCK * 2 * 8 * 2);

    @Test
    void underThePlacementAlone_blocksMoveBothWays_andTheKeptTablesStayExact() {
        Result r = run(() -> Policies.create("full"));
        assertTrue(r.d2hBlocks > 0, "blocks were demoted");
        assertTrue(r.builds < r.appends * LAYERS / 4, r.builds + " layer rebuilds in " + r.appends + " appends of " + LAYERS
                + " layers: most tokens keep their tables");
    }

    @Test
    void withTokensEvicted_maskedRowsAndFreedBlocks_reachTheTables() {
        Result r = run(() -> new StreamingPolicy(4, 40));
        assertTrue(r.maskedChecks > 0, "rows were masked in a listed block");
        assertTrue(r.freedBlocks > 0, "blocks were freed");
        // a token leaves the window each step in every layer: its row is marked in place; a layer rebuilds when a block opens,
        // moves or is freed
        assertTrue(r.maskUpdates > r.appends * LAYERS / 2, r.maskUpdates + " layers had rows marked in " + r.appends + " appends");
        assertTrue(r.builds < r.appends * LAYERS / 4, r.builds + " layer rebuilds in " + r.appends + " appends of " + LAYERS
                + " layers: most tokens keep their tables");
    }

    private record Result(int appends, long builds, long maskUpdates, long d2hBlocks, int maskedChecks, int freedBlocks) {
    }

    private static Result run(Supplier<KvPolicy> policy) {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        Result result;
        try (HostStepDevice device = new HostStepDevice();
             TieredKvStore store = TieredKvStore.open(device, SHAPE, LAYERS, 512, Backend.CPU, 4, policy)) {
            int appends = 0;
            int[] masked = {0};
            for (int t = 0; t < 100; t++, appends++) {
                store.append();
                check(store, masked);
            }
            store.endPrefill();
            for (int t = 0; t < 300; t++, appends++) {
                store.append();
                check(store, masked);
                if (t % 7 == 3) { // a sparse read keeps every other host entry this step: the next append rebuilds that part
                    for (int l = 0; l < LAYERS; l++) {
                        int n = store.tables().count(l, BlockTables.HOST);
                        boolean[] keep = new boolean[n];
                        for (int i = 0; i < n; i += 2) {
                            keep[i] = true;
                        }
                        store.tables().keep(l, keep, null);
                    }
                }
                store.step();
            }
            Sequence seq = store.sequence();
            int freed = 0;
            for (int l = 0; l < LAYERS; l++) {
                for (int b = 0; b < seq.blocks(); b++) {
                    freed += seq.tier(l, b) == Tier.NONE ? 1 : 0;
                }
            }
            result = new Result(appends, store.layerBuilds(), store.maskUpdates(), store.tiers().stats().d2hBlocks(), masked[0], freed);
        }
        before.assertNoLeaks();
        return result;
    }

    /** Every layer's two parts against the sequence now: blocks in order, their slots, valid rows and masked rows. */
    private static void check(TieredKvStore store, int[] maskedChecks) {
        Sequence seq = store.sequence();
        BlockTables tables = store.tables();
        for (int layer = 0; layer < LAYERS; layer++) {
            int l = layer;
            for (Tier tier : new Tier[] {Tier.DEVICE, Tier.HOST}) {
                int part = tier == Tier.DEVICE ? BlockTables.DEVICE : BlockTables.HOST;
                List<Integer> blocks = new ArrayList<>();
                for (int b = 0; b < seq.blocks(); b++) {
                    if (seq.tier(l, b) == tier) {
                        blocks.add(b);
                    }
                }
                String where = "token " + seq.length() + ", layer " + l + ", " + tier;
                int n = blocks.size();
                assertArrayEquals(blocks.stream().mapToInt(Integer::intValue).toArray(), tables.blocksOf(l, part), where + ": blocks");
                int[] slots = blocks.stream().mapToInt(b -> seq.slot(l, b)).toArray();
                assertArrayEquals(slots, tables.slotsOf(l, part), where + ": slots");
                int[] rows = blocks.stream().mapToInt(b -> Math.min(BLOCK, seq.length() - b * BLOCK)).toArray();
                assertArrayEquals(rows, tables.validRowsOf(l, part), where + ": valid rows");
                byte[] mask = new byte[n * BLOCK];
                for (int i = 0; i < n; i++) {
                    for (int r = 0; r < rows[i]; r++) {
                        if (seq.masked(l, blocks.get(i) * BLOCK + r)) {
                            mask[i * BLOCK + r] = 1;
                            maskedChecks[0]++;
                        }
                    }
                }
                byte[] got = tables.maskOf(l, part);
                assertArrayEquals(mask, got == null ? new byte[n * BLOCK] : got, where + ": masked rows");
            }
        }
    }
}
