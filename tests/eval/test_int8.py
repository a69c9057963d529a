"""--quantize int8: a generation setting (in the settings hash), hf on CPU only, and it generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.eval.backend_hf import HFGenerator
from medsafetybench.eval.backends import generation_settings
from medsafetybench.eval.generation import PromptJob
from medsafetybench.eval.rows import settings_hash
from medsafetybench.eval.run import RunFolder, generate_stage, select_items
from medsafetybench.models import resolve_model

from .helpers import make_requests


def test_int8_is_recorded_in_the_settings_and_their_hash(tiny_llama: Path) -> None:
    fp32 = generation_settings("hf", str(tiny_llama), max_new_tokens=4, dtype="float32")
    int8 = generation_settings("hf", str(tiny_llama), max_new_tokens=4, dtype="float32", quantize="int8")
    assert (fp32.quantize, int8.quantize) == ("none", "int8")
    assert settings_hash(fp32) != settings_hash(int8)
    assert int8.model_dump()["quantize"] == "int8"


@pytest.mark.parametrize(
    ("backend", "model", "kwargs", "message"),
    [
        ("hf", "m", {"quantize": "int4"}, "--quantize 'int4': use none or int8"),
        ("hf", "m", {"quantize": "int8", "dtype": "bfloat16"}, "not for dtype bfloat16"),
        ("openai", "gpt-4o-mini", {"quantize": "int8"}, "the openai backend does not quantize; use --backend hf"),
    ],
)
def test_int8_only_where_it_applies(backend: str, model: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(MedSafetyError, match=message):
        generation_settings(backend, model, **kwargs)  # type: ignore[arg-type]


def test_int8_generator_quantizes_linear_layers_and_the_manifest_names_the_loaded_folder(
    tiny_llama: Path, tmp_path: Path
) -> None:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    settings = generation_settings("hf", str(tiny_llama), max_new_tokens=4, dtype="float32", quantize="int8")
    gen = HFGenerator(settings, resolve_model(str(tiny_llama)), batch_size=2)
    assert isinstance(gen.model.model.layers[0].mlp.down_proj, DynamicInt8Linear)
    assert gen.model_files == str(tiny_llama.resolve())
    done: list[str] = []
    gen.generate([PromptJob("a", gen.render("hello")), PromptJob("b", gen.render("x y"))], lambda c: done.append(c.id))
    assert sorted(done) == ["a", "b"]
    folder = RunFolder(tmp_path / "run")
    generate_stage(folder, select_items(make_requests(1), limit=2), settings, lambda: gen)
    manifest = folder.manifest()
    assert manifest.generation == settings and manifest.last_generation is not None
    run = manifest.last_generation
    assert (run.model_files, run.items) == (str(tiny_llama.resolve()), 2)
    assert run.new_tokens == sum(r.n_new_tokens or 0 for r in folder.generations.read()) > 0
    assert run.load_seconds >= 0 and run.generate_seconds > 0
