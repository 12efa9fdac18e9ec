package io.tierkv.core;

import java.util.Locale;

/** Element types of KV entries and weights, with their size in bytes. */
public enum DType {
    F32(4, "F32"),
    F16(2, "F16"),
    BF16(2, "BF16");

    private final int bytes;
    private final String safetensorsName;

    DType(int bytes, String safetensorsName) {
        this.bytes = bytes;
        this.safetensorsName = safetensorsName;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** The name the safetensors format uses for this type. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Parses a dtype name case-insensitively ({@code f32}, {@code float32}, {@code bf16}, ...). */
    public static DType parse(String name) {
        switch (name.toLowerCase(Locale.ROOT)) {
            case "f32": case "float32": case "float": case "fp32": return F32;
            case "f16": case "float16": case "half": case "fp16": return F16;
            case "bf16": case "bfloat16": return BF16;
            default:
                throw new IllegalArgumentException("unknown dtype '" + name + "'; expected one of f32, f16, bf16");
        }
    }
}
