package io.tierkv.model.task;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The closed word list of the suite: special tokens, structure words, subjects (names), values and
 * filler words, every one a single token of a WordLevel tokenizer. The order is fixed: token ids are
 * indices into {@link #words()}, and the bundled model's tokenizer.json is written from it.
 */
public final class Vocabulary {
    public static final String PAD = "<pad>";
    public static final String BOS = "<bos>";
    public static final String EOS = "<eos>";
    public static final String UNK = "<unk>";

    static final List<String> SPECIAL = List.of(PAD, BOS, EOS, UNK);
    static final List<String> STRUCTURE = List.of(
            "questions", "passage", "answers", ".", "?", ";", "is", "true", "false",
            "fill", "judge", "choose", "match", "a", "b", "c", "d", "q1", "q2", "q3", "q4");
    static final List<String> NAMES = List.of(
            "zorp", "klim", "wex", "dax", "fenn", "gorb", "hult", "jask", "kiv", "lorn",
            "mab", "nop", "oxa", "pim", "quor", "rask", "sil", "tov", "umo", "vek",
            "wim", "yar", "zel", "bram", "crin", "drub", "elk", "frim", "glo", "hesk",
            "ivo", "jun", "kesh", "lum", "murk", "nib", "orv", "prem", "rulf", "tesk");
    static final List<String> VALUES = List.of(
            "red", "blue", "green", "gold", "jade", "pink", "gray", "teal", "lime", "plum",
            "oak", "pine", "fern", "moss", "reed", "rose", "sage", "mint", "iris", "lily",
            "wolf", "bear", "hawk", "lynx", "mole", "newt", "orca", "puma", "seal", "toad",
            "iron", "tin", "zinc", "salt", "sand", "clay", "silk", "wool", "wax", "glass");
    static final List<String> FILLER = List.of(
            "the", "of", "and", "to", "in", "it", "that", "was", "for", "on",
            "with", "as", "at", "by", "from", "they", "we", "this", "but", "or",
            "an", "were", "which", "there", "been", "many", "some", "time", "very", "when",
            "much", "would", "also", "more", "other", "into", "them", "these", "than", "then",
            "people", "water", "year", "town", "river", "road", "field", "house", "night", "day",
            "old", "new", "long", "small", "great", "little", "own", "right", "big", "high",
            "went", "came", "said", "made", "found", "seen", "told", "left", "kept", "held");

    private static final Vocabulary INSTANCE = new Vocabulary();

    private final List<String> words;
    private final Map<String, Integer> ids;

    private Vocabulary() {
        List<String> all = new ArrayList<>();
        all.addAll(SPECIAL);
        all.addAll(STRUCTURE);
        all.addAll(NAMES);
        all.addAll(VALUES);
        all.addAll(FILLER);
        Map<String, Integer> map = new LinkedHashMap<>();
        for (String w : all) {
            if (map.put(w, map.size()) != null) {
                throw new IllegalStateException("duplicate word in vocabulary: " + w);
            }
        }
        this.words = Collections.unmodifiableList(all);
        this.ids = Collections.unmodifiableMap(map);
    }

    public static Vocabulary get() {
        return INSTANCE;
    }

    /** All words in id order. */
    public List<String> words() {
        return words;
    }

    public int size() {
        return words.size();
    }

    /** The id of a word; throws for a word outside the vocabulary. */
    public int id(String word) {
        Integer id = ids.get(word);
        if (id == null) {
            throw new IllegalArgumentException("word '" + word + "' is not in the suite's vocabulary");
        }
        return id;
    }

    public String word(int id) {
        return words.get(id);
    }

    /** Ids of a whitespace-separated text. */
    public int[] encode(String text) {
        String[] parts = text.trim().split("\\s+");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = id(parts[i]);
        }
        return out;
    }

    /** The text of ids, joined by single spaces. */
    public String decode(int[] ids, int from, int to) {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < to; i++) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append(words.get(ids[i]));
        }
        return sb.toString();
    }

    public List<String> names() {
        return NAMES;
    }

    public List<String> values() {
        return VALUES;
    }

    public List<String> filler() {
        return FILLER;
    }
}
