package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.cuda.ops.DigestShape;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * The CUDA decoder's sketch digests ({@link DigestMirror}, the digest kernels' oracle) and the CPU decoder's
 * ({@link BlockDigests}) rank host blocks by the same numbers: for the same keys, each query head's estimated best score is
 * equal to the last bit, for every code width the two share. So a choice made on the GPU is the choice the CPU measured.
 */
class BlockDigestsMirrorTest {
    static final int HEADS = 8;
    static final int KV_HEADS = 4;
    static final int DIM = 32;
    static final int BLOCK = 16;

    @Test
    void sketchScores_areTheCpuDigestsScores_bitForBit() {
        SplittableRandom rnd = new SplittableRandom(20261201);
        int blocks = 6;
        int row = KV_HEADS * DIM;
        for (int bits : new int[] {4, 8}) {
            for (int sketch : new int[] {1, 2, 4}) {
                BlockDigests cpu = new BlockDigests(1, KV_HEADS, DIM, BLOCK, 1, bits, sketch);
                DigestShape shape = new DigestShape(KV_HEADS, DIM, BLOCK, 1, bits, sketch);
                // a slab of `blocks` slots, K half then V half (V left zero), keys of varied scale per block and head
                float[] slab = new float[blocks * 2 * BLOCK * row];
                for (int b = 0; b < blocks; b++) {
                    float[] keys = new float[BLOCK * row];
                    for (int i = 0; i < keys.length; i++) {
                        keys[i] = (float) (rnd.nextGaussian() * (b + 1) * 0.7 + (b == 3 ? 2.5 : 0));
                    }
                    if (b == 5) { // a constant dimension: a zero-width box
                        for (int t = 0; t < BLOCK; t++) {
                            keys[t * row + 7] = 1.25f;
                        }
                    }
                    System.arraycopy(keys, 0, slab, b * 2 * BLOCK * row, keys.length);
                    try (FloatPointer p = new FloatPointer(keys)) {
                        cpu.update(0, b, p.address());
                    }
                }
                int[] slots = {0, 1, 2, 3, 4, 5};
                int[] indexes = {0, 1, 2, 3, 4, 5};
                byte[] device = new byte[(int) (blocks * shape.bytesPerBlock())];
                DigestMirror.updateSketch(shape, slab, 2L * BLOCK * row, 0, blocks, slots, indexes, blocks, device);
                float[] q = new float[HEADS * DIM];
                float[] mirror = new float[blocks * HEADS];
                float[] expected = new float[HEADS];
                for (int trial = 0; trial < 5; trial++) {
                    for (int i = 0; i < q.length; i++) {
                        q[i] = (float) rnd.nextGaussian();
                    }
                    DigestMirror.score(shape, q, HEADS, 0.17f, device, indexes, blocks, mirror);
                    for (int b = 0; b < blocks; b++) {
                        cpu.score(0, b, q, HEADS, 0.17f, expected);
                        for (int h = 0; h < HEADS; h++) {
                            assertEquals(Float.floatToIntBits(expected[h]), Float.floatToIntBits(mirror[b * HEADS + h]),
                                    "bits " + bits + " sketch " + sketch + " block " + b + " head " + h + ": " + expected[h] + " vs "
                                            + mirror[b * HEADS + h]);
                        }
                    }
                }
                assertEquals(BlockDigests.bytesPerBlock(KV_HEADS, DIM, 1, bits, sketch, BLOCK), shape.rawBytesPerBlock(), "digest bytes");
            }
        }
    }
}
