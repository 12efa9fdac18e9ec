package io.tierkv.cuda.attention;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** One scores input: a pool of random keys, a shuffled block list, a query. */
record ScoresCase(ScoreShape shape, ByteBuffer pool, int[] blocks, int tokens, float[] q) {

    @Override
    public String toString() {
        return shape + " tokens=" + tokens;
    }

    /**
     * Shapes with grouped-query attention, a partly filled last block, a block size of 1, slack between blocks, odd head sizes;
     * two of them have blocks that are not a multiple of 16 bytes apart, which only the Java scores take.
     */
    static List<ScoresCase> all() {
        SplittableRandom rnd = new SplittableRandom(11);
        List<ScoresCase> cases = new ArrayList<>();
        cases.add(make(rnd, 4, 4, 16, 16, 0, 100));
        cases.add(make(rnd, 8, 2, 64, 16, 64, 257));
        cases.add(make(rnd, 6, 3, 20, 1, 0, 33));
        cases.add(make(rnd, 32, 8, 128, 16, 0, 1000));
        cases.add(make(rnd, 2, 1, 8, 5, 12, 9));
        cases.add(make(rnd, 3, 1, 5, 3, 4, 10)); // q of 60 bytes: the device staging after it must be realigned
        return cases;
    }

    /**
     * The shapes the device takes: every block a multiple of 16 bytes apart (the GPU refuses other sizes), with the
     * same variety as {@link #all()}: GQA, partial last block, block size 1, slack, odd head sizes, a q of 60 bytes.
     */
    static List<ScoresCase> deviceAligned() {
        SplittableRandom rnd = new SplittableRandom(12);
        List<ScoresCase> cases = new ArrayList<>();
        cases.add(make(rnd, 4, 4, 16, 16, 0, 100));
        cases.add(make(rnd, 8, 2, 64, 16, 64, 257));
        cases.add(make(rnd, 6, 3, 20, 1, 0, 33));    // 480-byte blocks
        cases.add(make(rnd, 32, 8, 128, 16, 0, 1000));
        cases.add(make(rnd, 2, 1, 8, 5, 16, 9));     // 336-byte blocks, 5 tokens each
        cases.add(make(rnd, 3, 1, 5, 3, 8, 10));     // 128-byte blocks; q of 60 bytes: the device staging after it is realigned
        for (ScoresCase c : cases) {
            if (c.shape().blockBytes() % 16 != 0) {
                throw new AssertionError("not a device shape: " + c);
            }
        }
        return cases;
    }

    static ScoresCase make(SplittableRandom rnd, int heads, int kvHeads, int headDim, int blockSize, int slackBytes, int tokens) {
        long keyBytes = (long) blockSize * kvHeads * headDim * Float.BYTES;
        long blockBytes = 2 * keyBytes + slackBytes; // K then V then slack, like a KvLayout block
        ScoreShape shape = new ScoreShape(heads, kvHeads, headDim, blockSize, blockBytes, (float) (1 / Math.sqrt(headDim)));
        int used = shape.blocksFor(tokens);
        int poolBlocks = used + 3;
        ByteBuffer pool = ByteBuffer.allocateDirect((int) (poolBlocks * blockBytes)).order(ByteOrder.nativeOrder());
        for (int i = 0; i + 4 <= pool.capacity(); i += 4) {
            pool.putFloat(i, (float) rnd.nextGaussian());
        }
        int[] order = new int[poolBlocks];
        for (int i = 0; i < poolBlocks; i++) {
            order[i] = i;
        }
        for (int i = poolBlocks - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        float[] q = new float[heads * headDim];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) (2 * rnd.nextGaussian());
        }
        return new ScoresCase(shape, pool, java.util.Arrays.copyOf(order, used), tokens, q);
    }

    /** Asserts two probability arrays agree within a relative tolerance (orders of summation differ). */
    static void assertClose(float[] expected, float[] actual, int heads, int tokens, int stride, String what) {
        for (int h = 0; h < heads; h++) {
            double rowSum = 0;
            for (int t = 0; t < tokens; t++) {
                float e = expected[h * stride + t];
                float a = actual[h * stride + t];
                rowSum += a;
                if (!(Math.abs(a - e) <= 2e-5 * Math.abs(e) + 1e-9f)) {
                    throw new AssertionError(what + ": head " + h + " token " + t + " expected " + e + " but was " + a);
                }
            }
            if (Math.abs(rowSum - 1) > 1e-4) {
                throw new AssertionError(what + ": head " + h + " sums to " + rowSum);
            }
        }
    }
}
