"""The GGUF conversion cache: converted once, keyed by file content and transformers version, atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.core.files import sha256_file
from medsafetybench.models import ModelRef, gguf_cache, local_model, resolve_model
from medsafetybench.models.gguf_cache import SOURCE_FILE, ConvertedGguf, cache_root


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("MEDSAFETYBENCH_CACHE", str(root))
    return root


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "tiny.Q4.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF weights v1")
    return path


class Converter:
    """Writes a stand-in model folder and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, gguf: Path, folder: Path) -> None:
        self.calls.append(folder)
        (folder / "model.safetensors").write_bytes(gguf.read_bytes())


def test_first_call_converts_then_later_calls_load_the_cached_folder(cache: Path, gguf: Path) -> None:
    convert = Converter()
    ref = resolve_model(str(gguf))
    first = local_model(ref, convert)
    digest = sha256_file(gguf)
    import transformers

    folder = cache / "gguf" / f"tiny.Q4-{digest[:16]}-transformers{transformers.__version__}"
    assert first == ModelRef(path=str(folder))
    assert len(convert.calls) == 1 and convert.calls[0].parent == folder.parent  # built beside it, then renamed
    assert (folder / "model.safetensors").read_bytes() == b"GGUF weights v1"
    source = ConvertedGguf.model_validate_json((folder / SOURCE_FILE).read_text())
    assert (source.gguf, source.gguf_sha256, source.transformers) == (
        str(gguf.resolve()),
        digest,
        transformers.__version__,
    )
    assert local_model(ref, convert) == first and len(convert.calls) == 1  # a hit converts nothing
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temporary folder left


def test_key_changes_with_the_file_content_and_the_transformers_version(
    cache: Path, gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    convert = Converter()
    ref = resolve_model(str(gguf))
    first = local_model(ref, convert)
    gguf.write_bytes(b"GGUF weights v2")  # same name, new content
    second = local_model(ref, convert)
    assert second != first and len(convert.calls) == 2
    assert json.loads((Path(second.path) / SOURCE_FILE).read_text())["gguf_sha256"] == sha256_file(gguf)
    monkeypatch.setattr(gguf_cache, "_transformers_version", lambda: "9.9.9")
    third = local_model(ref, convert)
    assert third.path.endswith("-transformers9.9.9") and len(convert.calls) == 3


def test_a_failed_conversion_leaves_nothing(cache: Path, gguf: Path) -> None:
    def half_then_crash(src: Path, folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("killed")

    def unreadable(src: Path, folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        raise OSError("GGUF header is corrupt\nmore detail")

    with pytest.raises(RuntimeError, match="killed"):
        local_model(resolve_model(str(gguf)), half_then_crash)
    assert list((cache / "gguf").iterdir()) == []
    with pytest.raises(
        MedSafetyError, match=r"^cannot convert .*tiny\.Q4\.gguf to safetensors: GGUF header is corrupt$"
    ):
        local_model(resolve_model(str(gguf)), unreadable)
    assert list((cache / "gguf").iterdir()) == []


def test_an_incomplete_folder_under_the_key_is_replaced(cache: Path, gguf: Path) -> None:
    target = gguf_cache.converted_folder(gguf)
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"half")  # no gguf_source.json: not a finished conversion
    convert = Converter()
    assert local_model(resolve_model(str(gguf)), convert) == ModelRef(path=str(target))
    assert len(convert.calls) == 1 and (target / "model.safetensors").read_bytes() == b"GGUF weights v1"


def test_other_models_are_loaded_as_given(cache: Path, tmp_path: Path) -> None:
    convert = Converter()
    for ref in (
        ModelRef(path="org/model"),
        ModelRef(path="org/model", gguf_file="m.gguf"),
        ModelRef(path=str(tmp_path)),
    ):
        assert local_model(ref, convert) is ref
    assert convert.calls == [] and not cache.exists()


def test_cache_root_is_the_env_variable_else_the_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("MEDSAFETYBENCH_CACHE", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x"
    monkeypatch.delenv("MEDSAFETYBENCH_CACHE")
    monkeypatch.setattr(constants, "HF_HOME", str(tmp_path / "hf"))
    assert cache_root() == tmp_path / "hf" / "medsafetybench"
