package io.tierkv.model.task;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generates reading-comprehension prompts, reproducibly from a seed.
 *
 * <p>A passage is filler sentences with fact sentences {@code <name> <value> .} spread through it;
 * every name and value occurs in at most one fact, so each question has one answer. Four facts are asked
 * about, in random order, with one {@link QuestionType} per prompt. The prompt ends with
 * {@code answers}; the expected completion answers q1 to q4 in order, each line closed by {@code ;},
 * then {@code <eos>}.
 *
 * <p>A multi-round prompt goes on after that answer: each later round is a chunk
 * {@code questions <keyword> q1 .. q4 .. answers} of four new questions about facts not asked before,
 * drawn from anywhere in the passage, so a fact may go unattended for several windows between being read
 * and being asked.
 */
public final class ReadingTask {
    private final TaskConfig config;
    private final Vocabulary vocab = Vocabulary.get();

    public ReadingTask(TaskConfig config) {
        this.config = config;
    }

    public TaskConfig config() {
        return config;
    }

    /**
     * The {@code index}-th prompt of a seeded sequence: same seed and index, same prompt. The two positions
     * of one index hold the same passage and questions, only arranged differently, as in the paper.
     */
    public ReadingPrompt prompt(long seed, long index, QuestionType type, QuestionPosition position) {
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + type.ordinal() * 31L);
        return generate(rnd, type, position);
    }

    /**
     * The {@code index}-th prompt of a seeded sequence with {@code rounds} rounds of questions. The passage has
     * at least {@code 4 * rounds} facts; where the one-round passage already has as many, round 1 is exactly
     * the one-round prompt of the same seed, index, type and position. The later rounds' types are drawn.
     */
    public ReadingPrompt prompt(long seed, long index, QuestionType type, QuestionPosition position, int rounds) {
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + type.ordinal() * 31L);
        return generate(rnd, type, position, rounds);
    }

    /** A one-round prompt drawn from {@code rnd}. */
    public ReadingPrompt generate(SplittableRandom rnd, QuestionType type, QuestionPosition position) {
        return generate(rnd, type, position, 1);
    }

    /**
     * A prompt of {@code rounds} rounds drawn from {@code rnd}. Every question of every round asks about a
     * different fact; the later rounds' facts are drawn from the whole passage, and their types at random.
     */
    public ReadingPrompt generate(SplittableRandom rnd, QuestionType type, QuestionPosition position, int rounds) {
        if (rounds < 1 || TaskConfig.QUESTIONS * rounds > Math.min(Vocabulary.NAMES.size(), Vocabulary.VALUES.size())) {
            throw new IllegalArgumentException("rounds must be in [1, "
                    + Math.min(Vocabulary.NAMES.size(), Vocabulary.VALUES.size()) / TaskConfig.QUESTIONS + "], was " + rounds);
        }
        int facts = Math.max(between(rnd, config.minFacts(), config.maxFacts()), TaskConfig.QUESTIONS * rounds);
        int[] names = pick(rnd, Vocabulary.NAMES.size(), facts);
        int[] values = pick(rnd, Vocabulary.VALUES.size(), facts);
        int passageTokens = Math.max(between(rnd, config.minPassageTokens(), config.maxPassageTokens()), 4 * facts);

        List<String> passage = new ArrayList<>();
        int[] valueIndexInPassage = buildPassage(rnd, names, values, passageTokens, passage);

        int[] asked = pick(rnd, facts, TaskConfig.QUESTIONS);
        Round first = askRound(rnd, type, asked, names, values);

        List<String> prompt = new ArrayList<>();
        prompt.add(Vocabulary.BOS);
        int passageStart;
        if (position == QuestionPosition.BEFORE) {
            prompt.add("questions");
            prompt.addAll(first.questionWords());
            prompt.add("passage");
            passageStart = prompt.size();
            prompt.addAll(passage);
        } else {
            prompt.add("passage");
            passageStart = prompt.size();
            prompt.addAll(passage);
        }
        int passageEnd = passageStart + passage.size();
        if (position == QuestionPosition.AFTER) {
            prompt.add("questions");
            prompt.addAll(first.questionWords());
        }
        prompt.add("answers");

        List<ReadingRound> followUps = new ArrayList<>();
        if (rounds > 1) {
            // The facts not asked in round 1, in random order: four per later round.
            boolean[] taken = new boolean[facts];
            for (int f : asked) {
                taken[f] = true;
            }
            int[] rest = new int[facts - TaskConfig.QUESTIONS];
            int n = 0;
            for (int f : shuffled(rnd, facts)) {
                if (!taken[f]) {
                    rest[n++] = f;
                }
            }
            for (int r = 1; r < rounds; r++) {
                QuestionType t = QuestionType.values()[rnd.nextInt(QuestionType.values().length)];
                int[] ask = Arrays.copyOfRange(rest, (r - 1) * TaskConfig.QUESTIONS, r * TaskConfig.QUESTIONS);
                Round round = askRound(rnd, t, ask, names, values);
                List<String> chunk = new ArrayList<>();
                chunk.add("questions");
                chunk.addAll(round.questionWords());
                chunk.add("answers");
                followUps.add(new ReadingRound(t, ids(chunk), ids(round.answerWords()), round.answerLines(),
                        positions(passageStart, valueIndexInPassage, ask)));
            }
        }
        return new ReadingPrompt(type, position, ids(prompt), ids(first.answerWords()), first.answerLines(),
                passageStart, passageEnd, positions(passageStart, valueIndexInPassage, asked), List.copyOf(followUps));
    }

    /** One round's questions (keyword first) and expected answer (ending with {@code <eos>}). */
    private record Round(List<String> questionWords, List<String> answerWords, List<String> answerLines) {
    }

    private Round askRound(SplittableRandom rnd, QuestionType type, int[] asked, int[] names, int[] values) {
        int facts = names.length;
        List<String> questionWords = new ArrayList<>();
        questionWords.add(type.keyword());
        List<String> answerWords = new ArrayList<>();
        List<String> answerLines = new ArrayList<>();
        boolean[] usedOption = new boolean[Vocabulary.VALUES.size()];
        for (int q = 0; q < TaskConfig.QUESTIONS; q++) {
            usedOption[values[asked[q]]] = true; // correct answers never serve as another question's distractor
        }

        for (int q = 0; q < TaskConfig.QUESTIONS; q++) {
            int f = asked[q];
            String qid = "q" + (q + 1);
            String name = Vocabulary.NAMES.get(names[f]);
            String value = Vocabulary.VALUES.get(values[f]);
            List<String> line = new ArrayList<>(List.of(qid, name, value));
            questionWords.add(qid);
            switch (type) {
                case FILL_BLANK -> questionWords.addAll(List.of(name, "?"));
                case MATCHING -> questionWords.add(name);
                case TRUE_FALSE -> {
                    boolean truth = rnd.nextBoolean();
                    String claim = truth ? value : Vocabulary.VALUES.get(values[otherThan(rnd, facts, f)]);
                    questionWords.addAll(List.of(claim, name, "?"));
                    line = new ArrayList<>(List.of(qid, claim, name, value, truth ? "true" : "false"));
                }
                case MULTIPLE_CHOICE -> {
                    int correct = rnd.nextInt(4);
                    int[] distractors = distractors(rnd, facts, f, values, usedOption, 3);
                    // The subject is followed by "?", never by a value, so that looking its value up finds the passage.
                    questionWords.addAll(List.of(name, "?"));
                    for (int o = 0, d = 0; o < 4; o++) {
                        questionWords.add(o == correct ? value : Vocabulary.VALUES.get(distractors[d++]));
                    }
                }
                default -> throw new IllegalStateException("unknown question type " + type);
            }
            answerLines.add(String.join(" ", line));
            answerWords.addAll(line);
            answerWords.add(";");
        }
        if (type == QuestionType.MATCHING) {
            // One list of options shared by the four questions: their values and two distractors, shuffled.
            int[] extra = distractors(rnd, facts, -1, values, usedOption, 2);
            String[] options = new String[TaskConfig.QUESTIONS + extra.length];
            for (int q = 0; q < TaskConfig.QUESTIONS; q++) {
                options[q] = Vocabulary.VALUES.get(values[asked[q]]);
            }
            for (int i = 0; i < extra.length; i++) {
                options[TaskConfig.QUESTIONS + i] = Vocabulary.VALUES.get(extra[i]);
            }
            questionWords.add("?");
            for (int i : shuffled(rnd, options.length)) {
                questionWords.add(options[i]);
            }
        }
        answerWords.add(Vocabulary.EOS);
        return new Round(questionWords, answerWords, List.copyOf(answerLines));
    }

    private static int[] positions(int passageStart, int[] valueIndexInPassage, int[] asked) {
        int[] out = new int[asked.length];
        for (int q = 0; q < asked.length; q++) {
            out[q] = passageStart + valueIndexInPassage[asked[q]];
        }
        return out;
    }

    /** Fills {@code out} with the passage; returns the index of each fact's value token within it. */
    private int[] buildPassage(SplittableRandom rnd, int[] names, int[] values, int tokens, List<String> out) {
        int facts = names.length;
        List<List<String>> fillers = new ArrayList<>();
        int fillerBudget = tokens - 3 * facts;
        int used = 0;
        while (used < fillerBudget) {
            int len = Math.min(between(rnd, TaskConfig.FILLER_MIN, TaskConfig.FILLER_MAX), Math.max(1, fillerBudget - used - 1));
            List<String> sentence = new ArrayList<>(len + 1);
            for (int i = 0; i < len; i++) {
                sentence.add(Vocabulary.FILLER.get(rnd.nextInt(Vocabulary.FILLER.size())));
            }
            sentence.add(".");
            fillers.add(sentence);
            used += sentence.size();
        }
        // Spread the facts: fact i goes into slot i of `facts` equal stretches of the filler sentences.
        int slots = fillers.size() + 1;
        int[] factSlot = new int[facts];
        for (int i = 0; i < facts; i++) {
            int lo = i * slots / facts;
            int hi = Math.max(lo + 1, (i + 1) * slots / facts);
            factSlot[i] = lo + rnd.nextInt(hi - lo);
        }
        int[] order = shuffled(rnd, facts);
        int[] valueIndex = new int[facts];
        int next = 0;
        for (int s = 0; s < slots; s++) {
            while (next < facts && factSlot[next] == s) {
                int f = order[next++];
                out.add(Vocabulary.NAMES.get(names[f]));
                valueIndex[f] = out.size();
                out.add(Vocabulary.VALUES.get(values[f]));
                out.add(".");
            }
            if (s < fillers.size()) {
                out.addAll(fillers.get(s));
            }
        }
        return valueIndex;
    }

    /**
     * Distractor values: values of other facts in the passage first (so a distractor is a real value),
     * then the pool; never a value already used in this prompt's options.
     */
    private int[] distractors(SplittableRandom rnd, int facts, int f, int[] values, boolean[] used, int count) {
        int[] out = new int[count];
        int n = 0;
        for (int o : shuffled(rnd, facts)) {
            if (o != f && n < count && !used[values[o]]) {
                out[n++] = values[o];
                used[values[o]] = true;
            }
        }
        while (n < count) {
            int v = rnd.nextInt(Vocabulary.VALUES.size());
            if (!used[v]) {
                out[n++] = v;
                used[v] = true;
            }
        }
        return out;
    }

    private static int otherThan(SplittableRandom rnd, int n, int excluded) {
        int o = rnd.nextInt(n - 1);
        return o >= excluded ? o + 1 : o;
    }

    private int[] ids(List<String> words) {
        int[] out = new int[words.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = vocab.id(words.get(i));
        }
        return out;
    }

    private static int between(SplittableRandom rnd, int lo, int hi) {
        return lo + rnd.nextInt(hi - lo + 1);
    }

    /** {@code k} distinct indices from {@code [0, n)}, in random order. */
    private static int[] pick(SplittableRandom rnd, int n, int k) {
        return Arrays.copyOf(shuffled(rnd, n), k);
    }

    private static int[] shuffled(SplittableRandom rnd, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}
