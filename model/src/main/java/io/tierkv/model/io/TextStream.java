package io.tierkv.model.io;

import java.util.Arrays;
import java.util.function.Function;

/**
 * Streams generated text as the decoded text grows: each new token's text is the new suffix of
 * {@code decode(context + generated)}, not {@code decode(token)}. Pieces then come out spaced as the whole
 * text is (SentencePiece's leading "▁", byte-level BPE's "Ġ", a WordLevel decoder's separating spaces), and
 * a character split over several byte tokens is held back until it is complete (while the text ends in
 * U+FFFD). The context is the last few prompt tokens, so the first piece is spaced against the prompt
 * without decoding the whole prompt every step.
 */
public final class TextStream {
    /** Prompt tokens decoded with the generated ones: enough for any decoder's spacing rule. */
    static final int CONTEXT = 4;

    private final Function<int[], String> decode;
    private int[] ids;
    private int count;
    private int printed;

    /** {@code decode} turns ids into text (special tokens skipped, for display). */
    public TextStream(Function<int[], String> decode, int[] prompt) {
        this.decode = decode;
        int context = Math.min(CONTEXT, prompt.length);
        this.ids = Arrays.copyOfRange(prompt, prompt.length - context, prompt.length + 16);
        this.count = context;
        this.printed = decode.apply(Arrays.copyOf(ids, count)).length();
    }

    /** Streams with {@code tokenizer}, special tokens skipped. */
    public static TextStream of(TextTokenizer tokenizer, int[] prompt) {
        return new TextStream(ids -> tokenizer.decode(ids, true), prompt);
    }

    /** The text this token adds (possibly empty, while a character is incomplete). */
    public String push(int token) {
        if (count == ids.length) {
            ids = Arrays.copyOf(ids, ids.length * 2);
        }
        ids[count++] = token;
        String text = decode.apply(Arrays.copyOf(ids, count));
        if (text.endsWith("\uFFFD")) {
            return "";
        }
        int from = Math.min(printed, text.length());
        String piece = text.substring(from);
        printed = text.length();
        return piece;
    }
}
