package io.tierkv.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class IndexedMinHeapTest {

    /** Random adds, updates, removals, root replacements and rebuilds against a sorted set of (key, id). */
    @Test
    void randomOperations_matchASortedSet() {
        int n = 200;
        IndexedMinHeap heap = new IndexedMinHeap(n);
        TreeSet<long[]> oracle = new TreeSet<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        long[] keys = new long[n];
        SplittableRandom rnd = new SplittableRandom(7);
        for (int op = 0; op < 20_000; op++) {
            int id = rnd.nextInt(n);
            long key = rnd.nextInt(50) - 25;
            if (!heap.contains(id) && !heap.isEmpty() && rnd.nextInt(4) == 0) {
                long[] first = oracle.pollFirst();
                assertEquals(first[1], heap.replaceRoot(id, key), "op " + op);
                assertFalse(heap.contains((int) first[1]));
                keys[id] = key;
                oracle.add(new long[] {key, id});
            } else if (!heap.contains(id)) {
                heap.add(id, key);
                keys[id] = key;
                oracle.add(new long[] {key, id});
            } else if (rnd.nextInt(3) == 0) {
                heap.remove(id);
                oracle.remove(new long[] {keys[id], id});
            } else if (rnd.nextInt(50) == 0) {
                for (int i = 0; i < heap.size(); i++) {
                    int member = heap.at(i);
                    oracle.remove(new long[] {keys[member], member});
                    keys[member] = rnd.nextInt(50) - 25;
                    heap.setKeyUnordered(member, keys[member]);
                    oracle.add(new long[] {keys[member], member});
                }
                heap.heapify();
            } else {
                oracle.remove(new long[] {keys[id], id});
                heap.update(id, key);
                keys[id] = key;
                oracle.add(new long[] {key, id});
            }
            assertEquals(oracle.size(), heap.size());
            if (op % 97 == 0) {
                heap.checkInvariants();
            }
            if (!oracle.isEmpty()) {
                assertEquals(oracle.first()[1], heap.peek(), "op " + op);
            }
        }
        heap.checkInvariants();
        while (!heap.isEmpty()) {
            assertEquals(oracle.pollFirst()[1], heap.poll());
        }
        assertFalse(heap.contains(0));
        assertTrue(oracle.isEmpty());
    }
}
