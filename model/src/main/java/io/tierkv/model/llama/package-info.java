/**
 * The Llama architecture on libtorch: the Hugging Face config, the weights by their Hugging Face names,
 * the dense forward pass (training and the reference for tests), and training.
 */
package io.tierkv.model.llama;
