"""The built-in model's presets (the build itself runs in the integration test)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import load_target

tiny_model = load_target("tiny_model")


def test_preset_sizes_match_their_promise() -> None:
    assert 300_000 <= tiny_model.parameter_count(tiny_model.PRESETS["tiny"]) <= 500_000
    small = tiny_model.PRESETS["small"]
    assert (small.hidden_size, small.num_hidden_layers, small.num_attention_heads) == (512, 8, 8)
    assert 19_000_000 <= tiny_model.parameter_count(small) <= 24_000_000


def test_head_dim_is_supported_by_the_cpu_backend() -> None:
    for preset in tiny_model.PRESETS.values():
        assert preset.hidden_size // preset.num_attention_heads in (32, 64, 80, 96, 112, 128, 256)


def test_corpus_is_deterministic_and_large_enough() -> None:
    assert tiny_model.corpus() == tiny_model.corpus()
    assert len(" ".join(tiny_model.corpus())) > 100_000


def test_chat_template_renders_roles() -> None:
    import jinja2

    text = jinja2.Template(tiny_model.CHAT_TEMPLATE).render(
        bos_token="<|bos|>", messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True)
    assert text == "<|bos|><|user|>hi<|end|><|assistant|>"


def test_is_current_requires_matching_manifest(tmp_path: Path) -> None:
    assert not tiny_model.is_current(str(tmp_path), "tiny", 4096)
    (tmp_path / "vllm-workflow-model.json").write_text(
        '{"generator_version": %d, "preset": "tiny", "max_position": 4096, "seed": 0}' % tiny_model.GENERATOR_VERSION)
    assert tiny_model.is_current(str(tmp_path), "tiny", 4096)
    assert not tiny_model.is_current(str(tmp_path), "small", 4096)
