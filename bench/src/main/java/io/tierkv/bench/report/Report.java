package io.tierkv.bench.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.tierkv.core.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A table of results with the settings that produced it, written the same way by every command:
 *
 * <ul>
 *   <li>{@link #writeJson}: {@code {"report", "settings": {...}, "columns": [{"name", "description"}],
 *       "rows": [{column: value, ...}]}}, with NaN and infinities as {@code null};</li>
 *   <li>{@link #writeCsv}: a header of column names, then one line per row (RFC 4180 quoting);</li>
 *   <li>{@link #markdown}: a pipe table of chosen columns formatted with each column's pattern.</li>
 * </ul>
 *
 * <p>Columns are declared once ({@link #column}); rows are values in column order.
 */
public final class Report {
    /** A column: its field name, a short title for tables, a {@link String#format} pattern, a description. */
    public record Column(String name, String title, String format, String description) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final String name;
    private final Map<String, Object> settings = new LinkedHashMap<>();
    private final List<Column> columns = new ArrayList<>();
    private final List<Object[]> rows = new ArrayList<>();

    public Report(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Records one setting of the run (any value Jackson can write). */
    public Report setting(String key, Object value) {
        settings.put(key, value);
        return this;
    }

    public Report column(String columnName, String title, String format, String description) {
        if (!rows.isEmpty()) {
            throw new IllegalStateException("declare columns before adding rows");
        }
        columns.add(new Column(columnName, title, format, description));
        return this;
    }

    public Report row(Object... values) {
        if (values.length != columns.size()) {
            throw new IllegalArgumentException("row has " + values.length + " values for " + columns.size() + " columns");
        }
        rows.add(values.clone());
        return this;
    }

    public List<Column> columns() {
        return List.copyOf(columns);
    }

    public int rowCount() {
        return rows.size();
    }

    /** The value of {@code column} in row {@code row}. */
    public Object value(int row, String column) {
        return rows.get(row)[indexOf(column)];
    }

    /** The whole report as the tree {@link #writeJson} writes. */
    public Map<String, Object> toMap() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("report", name);
        root.put("settings", settings);
        List<Map<String, Object>> cols = new ArrayList<>();
        for (Column c : columns) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", c.name());
            m.put("description", c.description());
            cols.add(m);
        }
        root.put("columns", cols);
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object[] r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < columns.size(); i++) {
                m.put(columns.get(i).name(), jsonValue(r[i]));
            }
            out.add(m);
        }
        root.put("rows", out);
        return root;
    }

    public void writeJson(Path file) throws IOException {
        createParent(file);
        AtomicFiles.write(file, JSON.writeValueAsBytes(toMap())); // whole or not at all
    }

    public void writeCsv(Path file) throws IOException {
        createParent(file);
        AtomicFiles.write(file, out -> writeCsv(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8)));
    }

    private void writeCsv(Writer unbuffered) throws IOException {
        try (Writer w = new java.io.BufferedWriter(unbuffered)) {
            for (int i = 0; i < columns.size(); i++) {
                w.write(i == 0 ? "" : ",");
                w.write(csv(columns.get(i).name()));
            }
            w.write("\n");
            for (Object[] r : rows) {
                for (int i = 0; i < r.length; i++) {
                    w.write(i == 0 ? "" : ",");
                    w.write(csv(r[i] == null || isNotFinite(r[i]) ? "" : String.valueOf(r[i])));
                }
                w.write("\n");
            }
        }
    }

    /** A Markdown pipe table of the named columns (all if none), values formatted by each column's pattern. */
    public String markdown(String... columnNames) {
        List<Integer> picked = new ArrayList<>();
        if (columnNames.length == 0) {
            for (int i = 0; i < columns.size(); i++) {
                picked.add(i);
            }
        } else {
            for (String c : columnNames) {
                picked.add(indexOf(c));
            }
        }
        String[][] cells = new String[rows.size() + 1][picked.size()];
        int[] width = new int[picked.size()];
        for (int j = 0; j < picked.size(); j++) {
            cells[0][j] = columns.get(picked.get(j)).title();
            for (int i = 0; i < rows.size(); i++) {
                Column c = columns.get(picked.get(j));
                cells[i + 1][j] = format(c.format(), rows.get(i)[picked.get(j)]);
            }
            for (String[] row : cells) {
                width[j] = Math.max(width[j], row[j].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            sb.append('|');
            for (int j = 0; j < picked.size(); j++) {
                String v = cells[i][j];
                boolean left = i == 0 || !looksNumeric(v);
                sb.append(' ').append(left ? pad(v, width[j], true) : pad(v, width[j], false)).append(" |");
            }
            sb.append('\n');
            if (i == 0) {
                sb.append('|');
                for (int j = 0; j < picked.size(); j++) {
                    char[] dashes = new char[width[j] + 2];
                    Arrays.fill(dashes, '-');
                    sb.append(dashes).append('|');
                }
                sb.append('\n');
            }
        }
        return sb.toString();
    }

    private int indexOf(String column) {
        for (int i = 0; i < columns.size(); i++) {
            if (columns.get(i).name().equals(column)) {
                return i;
            }
        }
        throw new IllegalArgumentException("report " + name + " has no column '" + column + "'");
    }

    private static String format(String pattern, Object v) {
        if (v == null || isNotFinite(v)) {
            return "-";
        }
        try {
            return String.format(Locale.ROOT, pattern, v);
        } catch (java.util.IllegalFormatException e) {
            return String.valueOf(v);
        }
    }

    private static boolean looksNumeric(String s) {
        return !s.isEmpty() && (Character.isDigit(s.charAt(0)) || s.charAt(0) == '-' && s.length() > 1);
    }

    private static String pad(String s, int width, boolean left) {
        StringBuilder sb = new StringBuilder(width);
        if (!left) {
            sb.append(" ".repeat(width - s.length()));
        }
        sb.append(s);
        if (left) {
            sb.append(" ".repeat(width - s.length()));
        }
        return sb.toString();
    }

    private static Object jsonValue(Object v) {
        return isNotFinite(v) ? null : v;
    }

    private static boolean isNotFinite(Object v) {
        return v instanceof Double && !Double.isFinite((Double) v) || v instanceof Float && !Float.isFinite((Float) v);
    }

    private static String csv(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    private static void createParent(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            try {
                Files.createDirectories(parent);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create directory " + parent, e);
            }
        }
    }
}
