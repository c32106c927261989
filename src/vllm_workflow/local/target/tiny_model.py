"""Build the built-in random-weight test model, offline and deterministically.

This file is copied to the target host and run with the engine virtualenv's
Python (which has torch, transformers and tokenizers because vLLM needs them),
so it imports nothing from vllm_workflow.

The model is a real Llama architecture with random weights and a byte-level
BPE tokenizer trained on a corpus built into this file. Its output is gibberish;
its compute is real, which is what infrastructure tests need.

Usage: python tiny_model.py --preset tiny|small --output DIR [--max-position N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

#: Bumped whenever the generated files would change for the same arguments.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Preset:
    """Architecture of one size preset."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool


#: head_dim is hidden_size / heads = 64 for both: the vLLM CPU attention
#: backend supports that head size.
PRESETS: dict[str, Preset] = {
    # ~0.4M parameters.
    "tiny": Preset(64, 192, 2, 1, 1, 2048, False),
    # ~21M parameters: hidden 512, 8 layers, 8 heads.
    "small": Preset(512, 1024, 8, 8, 8, 2048, True),
}

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

_WORDS = (
    "the a an of to in and is are was for on with as by at from that this it be or "
    "request response server engine router cache prefix token tokens model serving "
    "latency throughput queue batch memory kernel scheduler block page hit miss "
    "user session prompt answer question system stream chunk prefill decode first "
    "time second minute fast slow load balance replica cluster node host process "
    "thread core socket port health metric histogram counter gauge bucket rate "
    "linux file system network packet buffer driver device interrupt timer lock "
    "read write open close map unmap fault swap page table walk branch predict "
    "compile build test bench measure compare baseline dev change regression "
    "improvement confidence interval sample median mean tail percentile error "
    "hello world please tell me about how why what when where which who can could "
    "would should will shall may might must do does did done make made go went "
    "one two three four five six seven eight nine ten hundred thousand million"
).split()


def corpus(lines: int = 4000, seed: int = 1234) -> list[str]:
    """A deterministic pseudo-English corpus for training the tokenizer."""
    state = seed
    out: list[str] = []
    for _ in range(lines):
        words = []
        for _ in range(8 + state % 13):
            state = (state * 1103515245 + 12345) % (1 << 31)
            words.append(_WORDS[state % len(_WORDS)])
        sentence = " ".join(words)
        out.append(sentence[0].upper() + sentence[1:] + ".")
    out.extend(f"{n} {n * 7} {n * 13}" for n in range(500))
    return out


def parameter_count(preset: Preset) -> int:
    """Parameters of the Llama model a preset describes (norms included)."""
    h, i, n = preset.hidden_size, preset.intermediate_size, preset.num_hidden_layers
    kv = h * preset.num_key_value_heads // preset.num_attention_heads
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * i + 2 * h
    embed = preset.vocab_size * h
    head = 0 if preset.tie_word_embeddings else embed
    return embed + head + n * per_layer + h


def build(preset_name: str, output: str, max_position: int, seed: int = 0) -> dict:
    """Write config, weights and tokenizer to ``output``; return the manifest."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    preset = PRESETS[preset_name]
    os.makedirs(output, exist_ok=True)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=preset.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        model_max_length=max_position,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(output)

    config = LlamaConfig(
        vocab_size=preset.vocab_size,
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads,
        num_key_value_heads=preset.num_key_value_heads,
        max_position_embeddings=max_position,
        tie_word_embeddings=preset.tie_word_embeddings,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(output, safe_serialization=True)

    digest = hashlib.sha256()
    for name in sorted(os.listdir(output)):
        if name == "vllm-workflow-model.json":
            continue
        with open(os.path.join(output, name), "rb") as fh:
            digest.update(name.encode() + b"\0" + fh.read())
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "preset": preset_name,
        "max_position": max_position,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "sha256": digest.hexdigest(),
    }
    with open(os.path.join(output, "vllm-workflow-model.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
    return manifest


def manifest_matches(manifest: Any, preset_name: str, max_position: int, seed: int = 0) -> bool:
    """True when a model's manifest (``vllm-workflow-model.json``) describes this exact model."""
    return isinstance(manifest, dict) and manifest.get("generator_version") == GENERATOR_VERSION and manifest.get(
        "preset"
    ) == preset_name and manifest.get("max_position") == max_position and manifest.get("seed") == seed


def is_current(output: str, preset_name: str, max_position: int, seed: int = 0) -> bool:
    """True when ``output`` already holds this exact model (idempotent deploys)."""
    try:
        with open(os.path.join(output, "vllm-workflow-model.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        return False
    return manifest_matches(manifest, preset_name, max_position, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True, help="model size preset")
    parser.add_argument("--output", required=True, help="directory to write the model to")
    parser.add_argument("--max-position", type=int, default=4096, help="max_position_embeddings (default 4096)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    args = parser.parse_args(argv)
    if is_current(args.output, args.preset, args.max_position, args.seed):
        print(json.dumps({"changed": False, "output": args.output}))
        return 0
    parent = os.path.dirname(os.path.abspath(args.output)) or "."
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tiny-model-", dir=parent)
    manifest = build(args.preset, staging, args.max_position, args.seed)
    if os.path.isdir(args.output):
        old = staging + ".old"
        os.rename(args.output, old)
        os.rename(staging, args.output)
        import shutil

        shutil.rmtree(old)
    else:
        os.rename(staging, args.output)
    print(json.dumps({"changed": True, "output": args.output, **manifest}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
