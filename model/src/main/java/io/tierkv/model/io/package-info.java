/**
 * Hugging Face checkpoint files: safetensors (memory-mapped, validated, single file or sharded), and the
 * tokenizer through DJL's Hugging Face tokenizers.
 */
package io.tierkv.model.io;
