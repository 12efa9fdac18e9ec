package io.tierkv.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Budgets: parsing, the (0, 1] fraction rule, block counts, and conversion to tokens and blocks. */
class BudgetTest {

    @ParameterizedTest
    @CsvSource({"0.25, FRACTION, 0.25", "1, FRACTION, 1.0", "25%, FRACTION, 0.25", "100%, FRACTION, 1.0",
            "64b, BLOCKS, 64", "64blocks, BLOCKS, 64", " 8 B , BLOCKS, 8", "1e-3, FRACTION, 0.001"})
    void parse_acceptsFractionsPercentagesAndBlocks(String text, Budget.Kind kind, double value) {
        Budget b = Budget.parse(text);
        assertEquals(kind, b.kind());
        assertEquals(value, b.value());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "0      | budget fraction must be in (0, 1], was 0.0",
            "-0.5   | budget fraction must be in (0, 1], was -0.5",
            "1.5    | budget fraction must be in (0, 1], was 1.5",
            "150%   | budget fraction must be in (0, 1], was 1.5",
            "NaN    | budget 'NaN' is neither a fraction in (0, 1] nor a block count like 64b",
            "-3b    | budget block count must be a whole number >= 0, was -3.0",
            "0b     | budget of 0 blocks leaves no room for the tail block",
            "lots   | budget 'lots' is neither a fraction in (0, 1] nor a block count like 64b",
            "2.5b   | budget '2.5b' is neither a fraction in (0, 1] nor a block count like 64b",
            "b      | budget 'b' is neither a fraction in (0, 1] nor a block count like 64b"})
    void parse_badBudget_namesTheValue(String text, String expected) {
        assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> Budget.parse(text)).getMessage());
    }

    @Test
    void factories_checkLikeTheParser() {
        assertEquals("budget fraction must be in (0, 1], was 1.01",
                assertThrows(IllegalArgumentException.class, () -> Budget.fraction(1.01)).getMessage());
        assertEquals("budget block count must be a whole number >= 0, was -1.0",
                assertThrows(IllegalArgumentException.class, () -> Budget.blocks(-1)).getMessage());
        assertEquals("budget fraction must be in (0, 1], was NaN",
                assertThrows(IllegalArgumentException.class, () -> Budget.fraction(Double.NaN)).getMessage());
        assertEquals("budget block count must be a whole number >= 0, was 2.5",
                assertThrows(IllegalArgumentException.class, () -> new Budget(Budget.Kind.BLOCKS, 2.5)).getMessage());
    }

    @Test
    void fraction_convertsToTokensAndBlocks_roundingDownButNeverToZero() {
        Budget quarter = Budget.fraction(0.25);
        assertEquals(25, quarter.tokens(100, 16));
        assertEquals(1, quarter.blocks(100, 16)); // 25 tokens / 16 = 1 block
        assertEquals(1, quarter.tokens(2, 16)); // floor(0.5) -> at least 1
        assertEquals(1, quarter.blocks(2, 16));
        assertEquals(4, Budget.fraction(1).blocks(64, 16));
    }

    @Test
    void blocks_convertToTokensWithoutOverflow() {
        assertEquals(64 * 16, Budget.blocks(64).tokens(0, 16));
        assertEquals(64, Budget.blocks(64).blocks(0, 16));
        assertEquals(Integer.MAX_VALUE, Budget.blocks(Integer.MAX_VALUE).tokens(0, 16));
    }

    @Test
    void toString_roundTripsThroughParse() {
        for (Budget b : new Budget[] {Budget.fraction(0.25), Budget.blocks(64), Budget.fraction(1)}) {
            assertEquals(b, Budget.parse(b.toString()));
        }
        assertEquals("64b", Budget.blocks(64).toString());
    }
}
