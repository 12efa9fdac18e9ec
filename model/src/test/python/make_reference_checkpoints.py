#!/usr/bin/env python3
"""Writes small random-weight checkpoints with Hugging Face `transformers` itself, and the logits that
`transformers` computes for a few prompts, as fixtures for ReferenceCheckpointsTest (model module).

Run where torch and transformers are installed (no network needed), then copy OUT into the repository:

    python3 model/src/test/python/make_reference_checkpoints.py model/src/test/resources/reference-checkpoints

Each OUT/<name>/ holds what save_pretrained writes (config.json, model.safetensors) and reference.json:
    {"transformers": version, "torch": version, "dtype": "float32"|"bfloat16", "tolerance": max abs logit error,
     "prompts": [[ids...], ...], "logits": [[[V floats] per position] per prompt]}
The test loads each directory with TierKV's loader and compares its logits with these within `tolerance`.
The models (a few hundred KB each):
    llama3       LlamaForCausalLM, llama3 rope scaling, GQA (4 heads over 2), tied embeddings, float32
    llama3-bf16  the same weights saved in bfloat16; reference computed by transformers in float32 from the
                 bfloat16-rounded weights (TierKV rounds activations to bfloat16 at each product,
                 2^-8 relative each time: 0.3 against logits up to ~4.4; measured 0.06 at 17 tokens,
                 0.21 at 40; a weight loaded wrongly moves logits by O(1))
    mistral      MistralForCausalLM, GQA, untied, float32
    qwen2        Qwen2ForCausalLM (q/k/v biases), tied, float32
"""
import json
import os
import sys

import torch
import transformers
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

VOCAB = 96
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2,
              initializer_range=0.15)  # larger than the default 0.02, so attention is far from uniform


def models():
    llama3 = LlamaConfig(**COMMON, rope_theta=500000.0, tie_word_embeddings=True,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 16})
    yield "llama3", LlamaForCausalLM, llama3, torch.float32, 1e-4
    yield "llama3-bf16", LlamaForCausalLM, llama3, torch.bfloat16, 0.3
    yield "mistral", MistralForCausalLM, MistralConfig(**COMMON, rope_theta=10000.0, tie_word_embeddings=False,
                                                       sliding_window=None), torch.float32, 1e-4
    yield "qwen2", Qwen2ForCausalLM, Qwen2Config(**COMMON, rope_theta=1000000.0, tie_word_embeddings=True,
                                                 use_sliding_window=False), torch.float32, 1e-4


def main(out):
    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, VOCAB, (n,), generator=gen).tolist() for n in (5, 17, 40)]
    for name, cls, config, dtype, tolerance in models():
        torch.manual_seed(1)  # the same weights for llama3 and llama3-bf16
        config.torch_dtype = dtype
        model = cls(config).eval()
        with torch.no_grad():
            for n, p in model.named_parameters():  # biases start at zero: make them matter
                if n.endswith("bias"):
                    p.normal_(0.0, 0.1)
        model = model.to(dtype)
        target = os.path.join(out, name)
        model.save_pretrained(target, safe_serialization=True)
        model = model.float()  # the reference: exact math over the weights as saved
        logits = []
        with torch.no_grad():
            for ids in prompts:
                logits.append(model(torch.tensor([ids])).logits[0].float().tolist())
        with open(os.path.join(target, "reference.json"), "w") as f:
            json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                       "dtype": str(dtype).replace("torch.", ""), "tolerance": tolerance,
                       "prompts": prompts, "logits": logits}, f)
        print(target)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "reference-checkpoints")
