"""Convert a ``.gguf`` model once into a cached safetensors folder that later runs load in seconds.

transformers dequantizes a GGUF file on every load (about 35 s for the embedded SmolLM2 on 2 CPU
cores). :func:`local_model` converts it once into ``<cache>/gguf/<stem>-<sha256[:16]>-transformers<version>``
(fp32 safetensors, config and tokenizer); the folder is built in a temporary folder beside it and
renamed into place only when complete, so a failed or killed conversion never leaves a half folder
under that name. The cache is ``$MEDSAFETYBENCH_CACHE`` or ``$HF_HOME/medsafetybench``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..core.errors import MedSafetyError
from ..core.files import atomic_write_text, sha256_file
from ..core.text import utc_now
from .refs import ModelRef

__all__ = ["CACHE_ENV", "SOURCE_FILE", "ConvertedGguf", "cache_root", "converted_folder", "local_model"]

CACHE_ENV = "MEDSAFETYBENCH_CACHE"
SOURCE_FILE = "gguf_source.json"
"""Written last into a converted folder: where it came from (its presence marks a complete folder)."""

Converter = Callable[[Path, Path], None]
"""``convert(gguf_file, folder)``: write a loadable model folder for a GGUF file."""


class ConvertedGguf(BaseModel):
    """``gguf_source.json``: the GGUF file a cached folder was converted from, and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gguf: str
    gguf_sha256: str
    transformers: str
    converted: str
    seconds: float


def cache_root() -> Path:
    """``$MEDSAFETYBENCH_CACHE``, else ``medsafetybench`` in the Hugging Face cache (``$HF_HOME``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "medsafetybench"


_sha_memo: dict[tuple[str, int, int], str] = {}


def _gguf_sha256(path: Path) -> str:
    """sha256 of the file, remembered per (path, size, mtime) within a process (eval and finetune ask twice)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _sha_memo:
        _sha_memo[key] = sha256_file(path)
    return _sha_memo[key]


def _transformers_version() -> str:
    import transformers

    return transformers.__version__


def converted_folder(gguf: Path) -> Path:
    """The cache folder of a GGUF file: keyed by its content (sha256) and the transformers version."""
    return cache_root() / "gguf" / f"{gguf.stem}-{_gguf_sha256(gguf)[:16]}-transformers{_transformers_version()}"


def _convert(gguf: Path, folder: Path) -> None:
    """Dequantize with transformers and save fp32 safetensors, config, generation config and tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:  # dequantized on load: save it as a plain fp32 model
        model.hf_quantizer.remove_quantization_config(model)
        model.config._is_quantized = False
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def local_model(ref: ModelRef, convert: Converter = _convert) -> ModelRef:
    """What to load for ``ref``: for a local ``.gguf`` its converted cache folder (converted now if
    missing), anything else unchanged."""
    if not ref.gguf_file or not (gguf := Path(ref.path) / ref.gguf_file).is_file():
        return ref  # a GGUF inside a Hub repo is left to transformers
    target = converted_folder(gguf)
    if (target / SOURCE_FILE).is_file():
        return ModelRef(path=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like the HF cache
    try:
        start = time.perf_counter()
        try:
            convert(gguf, tmp)
        except (OSError, ValueError) as exc:
            raise MedSafetyError(f"cannot convert {gguf} to safetensors: {str(exc).splitlines()[0]}") from None
        source = ConvertedGguf(
            gguf=str(gguf.resolve()),
            gguf_sha256=_gguf_sha256(gguf),
            transformers=_transformers_version(),
            converted=utc_now(),
            seconds=round(time.perf_counter() - start, 3),
        )
        atomic_write_text(tmp / SOURCE_FILE, source.model_dump_json(indent=2) + "\n")
        if target.exists() and not (target / SOURCE_FILE).is_file():
            shutil.rmtree(target)  # an incomplete folder left by hand or an older version
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / SOURCE_FILE).is_file():  # not just another process finishing first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ModelRef(path=str(target))
