package io.tierkv.tiering.remote;

import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixChain;

import java.time.Duration;
import java.util.List;

/**
 * The other process of {@link RemoteTierTwoProcessTest}: writes the blocks of a seeded prompt and exits 0
 * once the store accepted all of them. Arguments: {@code URI SEED BLOCKS}.
 */
public final class RemoteWriterProcess {
    private RemoteWriterProcess() {
    }

    public static void main(String[] args) {
        String uri = args[0];
        long seed = Long.parseLong(args[1]);
        int blocks = Integer.parseInt(args[2]);
        int[] prompt = TestBlocks.tokens(TestBlocks.LAYOUT.blockSize() * blocks + 1, seed);
        TestBlocks kv = TestBlocks.random(TestBlocks.LAYOUT, blocks, seed);
        RemoteConfig config = RemoteConfig.of(uri).withWriteTimeout(Duration.ofSeconds(30));
        try (RemoteKvTier tier = RemoteKvTier.open(config, TestBlocks.NAMESPACE)) {
            List<BlockHash> hashes = PrefixChain.hashes(TestBlocks.NAMESPACE, prompt, prompt.length);
            for (int b = 0; b < blocks; b++) {
                tier.offer(hashes.get(b), b, kv);
            }
            tier.awaitWrites(Duration.ofSeconds(60));
            RemoteStats s = tier.stats();
            System.out.println("wrote " + s.writes() + " of " + blocks + " blocks, " + s.bytesWritten() + " bytes");
            System.exit(s.writes() == blocks ? 0 : 1);
        }
    }
}
