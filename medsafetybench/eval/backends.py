"""Generation backends by name (``hf``, ``vllm``, ``openai``), each module imported only when used.

The CLI's ``--backend`` help, the check of ``GenerationSettings.backend`` and the error for an
unknown name all read :data:`BACKENDS`. To add a backend, write ``backend_<name>.py`` with a class
that follows :class:`~.generation.Generator` (``render`` with :func:`~.prompts.render_prompt`,
``generate``, ``close``) and register a factory here that imports it lazily::

    @register_backend("mine", help="my engine", local_weights=True)
    def _mine(settings: GenerationSettings, options: BackendOptions) -> Generator:
        from .backend_mine import MineGenerator

        return MineGenerator(settings, resolve_model(settings.model), batch_size=options.batch_size)

A rubric-style judge can then use it as its transport too (``rubric:mine:<model>``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import MedSafetyError
from ..core.registry import Registry
from ..models import adapter_sha256, resolve_model
from ..models.quantize import check_quantize
from .generation import Generator
from .openai_client import ApiOptions
from .prompts import paper_template_for
from .rows import GenerationSettings

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendOptions",
    "generation_settings",
    "make_generator",
    "register_backend",
]

PAPER_TEMPLATES = ("paper-llama2", "paper-medalpaca")


@dataclass(frozen=True)
class BackendOptions:
    """How to run a backend; unlike :class:`GenerationSettings`, nothing here changes an answer."""

    batch_size: int | None = None  # hf: prompts per batch (None: fits GPU memory; 8 on CPU)
    tensor_parallel_size: int = 1  # vllm: GPUs per model
    api: ApiOptions = field(default_factory=ApiOptions)  # openai: endpoint, key, concurrency, retries
    label: str | None = None  # openai: how errors name the model (``item <id>: <label>``)
    keep_rejections: bool = False  # openai: a content-policy rejection is a Completion, not an error


Factory = Callable[[GenerationSettings, BackendOptions], Generator]


@dataclass(frozen=True)
class Backend:
    """A registered backend: its factory and the traits that shape its :class:`GenerationSettings`."""

    name: str
    help: str
    create: Factory
    local_weights: bool = True
    """``--model`` names weights loaded here (resolved: smollm2-135m, folder, .gguf, Hub id), with a dtype."""
    endpoint: bool = False
    """It calls ``--base-url``, which is then part of the settings."""
    auto_dtype: Callable[[], str] | None = None
    """What ``--dtype auto`` means here, recorded in the settings (None: ``auto`` is recorded)."""
    quantizes: bool = False
    """It honours ``--quantize int8`` (dynamic int8 Linear layers on CPU)."""


BACKENDS: Registry[Backend] = Registry("backend")


def register_backend(
    name: str,
    *,
    help: str,
    local_weights: bool = True,
    endpoint: bool = False,
    auto_dtype: Callable[[], str] | None = None,
    quantizes: bool = False,
) -> Callable[[Factory], Factory]:
    """Register the decorated factory ``(settings, options) -> Generator`` as backend ``name``."""

    def decorate(factory: Factory) -> Factory:
        BACKENDS.add(name, Backend(name, help, factory, local_weights, endpoint, auto_dtype, quantizes))
        return factory

    return decorate


def make_generator(settings: GenerationSettings, options: BackendOptions | None = None) -> Generator:
    """The generator of ``settings.backend`` (loads the model of a local backend)."""
    return BACKENDS.get(settings.backend).create(settings, options or BackendOptions())


def generation_settings(
    backend: str,
    model: str,
    *,
    adapter: str | None = None,
    prompt_format: str = "chat",
    template: str | None = None,
    system_prompt: str | None = None,
    max_new_tokens: int = 512,
    dtype: str = "auto",
    base_url: str | None = None,
    quantize: str = "none",
) -> GenerationSettings:
    """The settings of a generation run from the user's options (model resolved, adapter hashed)."""
    b = BACKENDS.get(backend)
    if prompt_format not in ("chat", "paper"):
        raise MedSafetyError(f"--prompt-format {prompt_format!r}: use chat or paper")
    if template is not None and template not in PAPER_TEMPLATES:
        raise MedSafetyError(f"--template {template!r}: use {' or '.join(PAPER_TEMPLATES)}")
    if not b.local_weights:
        dtype = "n/a"
    elif dtype == "auto" and b.auto_dtype is not None:
        dtype = b.auto_dtype()
    if quantize != "none":
        if not b.quantizes:
            raise MedSafetyError(f"--quantize {quantize}: the {backend} backend does not quantize; use --backend hf")
        check_quantize(quantize, dtype)
    return GenerationSettings(
        backend=backend,
        model=resolve_model(model).display if b.local_weights else model,
        adapter=str(Path(adapter).resolve()) if adapter and Path(adapter).exists() else adapter,
        adapter_sha256=adapter_sha256(adapter) if adapter else None,
        base_url=base_url if b.endpoint else None,
        prompt_format=prompt_format,  # type: ignore[arg-type]
        template="chat" if prompt_format == "chat" else (template or paper_template_for(model)),
        system_prompt=system_prompt,
        max_new_tokens=max_new_tokens,
        dtype=dtype,
        quantize=quantize,  # type: ignore[arg-type]
    )


def _torch_default_dtype() -> str:
    import torch

    return "bfloat16" if torch.cuda.is_available() else "float32"


@register_backend("hf", help="transformers on this machine", auto_dtype=_torch_default_dtype, quantizes=True)
def _hf(settings: GenerationSettings, options: BackendOptions) -> Generator:
    from .backend_hf import HFGenerator

    return HFGenerator(settings, resolve_model(settings.model), batch_size=options.batch_size)


@register_backend("vllm", help="vLLM, one or more GPUs")
def _vllm(settings: GenerationSettings, options: BackendOptions) -> Generator:
    from .backend_vllm import VLLMGenerator

    return VLLMGenerator(settings, resolve_model(settings.model), tensor_parallel_size=options.tensor_parallel_size)


@register_backend("openai", help="an OpenAI-compatible endpoint", local_weights=False, endpoint=True)
def _openai(settings: GenerationSettings, options: BackendOptions) -> Generator:
    from .backend_openai import OpenAIGenerator

    return OpenAIGenerator(settings, options.api, label=options.label, keep_rejections=options.keep_rejections)
