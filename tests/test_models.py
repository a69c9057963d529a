"""The shared model layer: model names resolve the same way for eval and finetune; adapters are checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.models import (
    SMOLLM2_HUB_ID,
    ModelRef,
    adapter_sha256,
    check_adapter_base,
    resolve_model,
    same_model,
)


def test_names_resolve_to_the_embedded_gguf_a_file_a_folder_or_a_hub_id(tmp_path: Path) -> None:
    embedded = resolve_model("SmolLM2-135M")
    assert embedded.gguf_file is not None or embedded == ModelRef(path=SMOLLM2_HUB_ID)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(str(gguf)) == ModelRef(path=str(tmp_path.resolve()), gguf_file="m.gguf")
    assert resolve_model(str(gguf)).display == f"{tmp_path.resolve()}/m.gguf"
    assert resolve_model(str(tmp_path)) == ModelRef(path=str(tmp_path.resolve()))
    assert resolve_model("org/model") == ModelRef(path="org/model")
    assert resolve_model(str(tmp_path / "missing.gguf")) == ModelRef(path=str(tmp_path / "missing.gguf"))
    assert same_model(str(tmp_path) + "/", str(tmp_path)) and same_model("org/model/", "org/model")
    assert not same_model("org/model", "org/other")


def test_adapter_hash_covers_config_and_weights(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.safetensors").write_bytes(b"w1")
    (tmp_path / "README.md").write_text("not part of the adapter")
    expected = hashlib.sha256(b"adapter_config.json\0{}adapter_model.safetensors\0w1").hexdigest()
    assert adapter_sha256(tmp_path) == adapter_sha256(str(tmp_path)) == expected
    (tmp_path / "README.md").write_text("changed")
    assert adapter_sha256(tmp_path) == expected
    (tmp_path / "adapter_model.safetensors").write_bytes(b"w2")
    assert adapter_sha256(tmp_path) != expected
    assert adapter_sha256(tmp_path / "missing") is None
    assert adapter_sha256("org/hub-adapter") is None


def test_adapter_base_comes_from_the_manifest_then_the_adapter_config(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/config-base"}))
    check_adapter_base(tmp_path, "org/config-base")
    with pytest.raises(MedSafetyError, match=r"trained on org/config-base \(per adapter_config.json\), not on org/b"):
        check_adapter_base(tmp_path, "org/b")
    (tmp_path / "manifest.json").write_text(json.dumps({"base_model": "org/manifest-base"}))
    check_adapter_base(tmp_path, "org/manifest-base")
    with pytest.raises(MedSafetyError, match=r"\(per manifest.json\), not on org/config-base; pass --model org/manif"):
        check_adapter_base(tmp_path, "org/config-base")
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "adapter_config.json").write_text("{}")
    check_adapter_base(tmp_path, "anything")  # no recorded base: nothing to check
    with pytest.raises(MedSafetyError, match="is not a LoRA adapter folder"):
        check_adapter_base(tmp_path / "nope", "org/b")
