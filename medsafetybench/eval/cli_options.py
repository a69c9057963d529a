"""The eval CLI's option groups, declared once and shared by ``eval``, ``generate`` and ``judge``.

Each group is a frozen dataclass whose fields carry their ``typer.Option``; a command takes whole
groups as parameters and :func:`option_groups` shows their fields to typer as plain options.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from .backends import BACKENDS, BackendOptions, generation_settings
from .judges import judge_usage
from .openai_client import ApiOptions
from .pipeline import EVAL_CONFIGS
from .rows import GenerationSettings

__all__ = [
    "ApiRetryOptions",
    "DataOptions",
    "JudgeOptions",
    "LocalOptions",
    "ModelOptions",
    "Out",
    "Resamples",
    "SelectionOptions",
    "StageOptions",
    "option_groups",
]

F = TypeVar("F", bound=Callable[..., Any])

Out = Annotated[Path, typer.Option("--out", help="Run folder (created; shared by all stages).")]
Resamples = Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")]
KeyEnv = Annotated[str, typer.Option(help="Environment variable holding the API key.")]


@dataclasses.dataclass(frozen=True)
class DataOptions:
    data: Annotated[
        str | None,
        typer.Option("--data", help="Build folder or ORG/NAME on the Hub (default $MEDSAFETYBENCH_REPO_ID)."),
    ] = None
    revision: Annotated[str | None, typer.Option(help="Hub revision of the dataset.")] = None


@dataclasses.dataclass(frozen=True)
class SelectionOptions:
    config: Annotated[str, typer.Option(help=f"Config to evaluate: {', '.join(EVAL_CONFIGS)}.")] = "medical_test"
    source: Annotated[str | None, typer.Option("--source", help="Only requests written by gpt4 | llama2 | llama3.")] = (
        None
    )
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate the first N selected items.")] = None
    per_principle: Annotated[
        int | None,
        typer.Option("--per-principle", min=1, help="K items of each principle, taken in turn from each source."),
    ] = None
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            help="Instead of --config: two-sided = harmful medical_test + benign medical_benign test "
            "(--per-principle applies to each side).",
        ),
    ] = None


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """The model and everything that changes its answers (plus where its backend runs)."""

    model: Annotated[
        str, typer.Option(help="smollm2-135m, a local folder or .gguf, a Hub id, or an API model name.")
    ] = "smollm2-135m"
    backend: Annotated[
        str, typer.Option(help=" | ".join(f"{name} ({b.help})" for name, b in BACKENDS.items()) + ".")
    ] = "hf"
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter folder (hf, vllm).")] = None
    prompt_format: Annotated[
        str, typer.Option("--prompt-format", help="chat (model's chat template) | paper (upstream).")
    ] = "chat"
    template: Annotated[
        str | None,
        typer.Option(help="Paper template: paper-llama2 | paper-medalpaca (default: from the model name)."),
    ] = None
    system_prompt: Annotated[
        str | None, typer.Option(help="System prompt (paper default: Llama-2's; chat default: none).")
    ] = None
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Max new tokens per answer (paper: 512).")] = 512
    dtype: Annotated[str, typer.Option(help="auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float16 | float32.")] = "auto"
    quantize: Annotated[
        str, typer.Option(help="none | int8 (hf on CPU: dynamic int8 Linear layers, faster; answers can differ).")
    ] = "none"
    tensor_parallel_size: Annotated[int, typer.Option(min=1, help="vLLM tensor parallel size (GPUs).")] = 1
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint of the model (openai backend).")] = (
        None
    )
    api_key_env: KeyEnv = "OPENAI_API_KEY"

    def settings(self) -> GenerationSettings:
        return generation_settings(
            self.backend,
            self.model,
            adapter=self.adapter,
            prompt_format=self.prompt_format,
            template=self.template,
            system_prompt=self.system_prompt,
            max_new_tokens=self.max_new_tokens,
            dtype=self.dtype,
            base_url=self.base_url,
            quantize=self.quantize,
        )


@dataclasses.dataclass(frozen=True)
class ApiRetryOptions:
    """How API calls (generation and judges) are made."""

    concurrency: Annotated[int, typer.Option(min=1, help="Concurrent API requests.")] = 16
    max_retries: Annotated[int, typer.Option(min=0, help="Retries on 429/5xx/timeouts.")] = 5
    retry_base_delay: Annotated[
        float, typer.Option(min=0.0, help="First retry delay in seconds (doubles each retry).")
    ] = 1.0
    timeout: Annotated[float, typer.Option(min=0.1, help="API request timeout in seconds.")] = 120.0

    def api(self, base_url: str | None, key_env: str) -> ApiOptions:
        from ..core.secrets import register_secret_env

        register_secret_env(key_env)  # its value is redacted from every line and file
        return ApiOptions(
            base_url=base_url,
            api_key_env=key_env,
            concurrency=self.concurrency,
            max_retries=self.max_retries,
            backoff_base=self.retry_base_delay,
            timeout=self.timeout,
        )


@dataclasses.dataclass(frozen=True)
class JudgeOptions:
    judge: Annotated[
        list[str] | None,
        typer.Option("--judge", help=f"{' | '.join(judge_usage())}; repeat for several."),
    ] = None
    judge_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint of API judges (e.g. rubric:<api model>).")
    ] = None
    judge_api_key_env: KeyEnv = "OPENAI_API_KEY"
    upstream: Annotated[
        str | None,
        typer.Option(
            "--upstream",
            help="Upstream release copy for upstream:<model> judges (default ../shared/upstream, "
            "else the pinned archive).",
        ),
    ] = None


@dataclasses.dataclass(frozen=True)
class LocalOptions:
    """How local models (generation and judges) run."""

    batch_size: Annotated[
        int | None, typer.Option(min=1, help="hf batch size (default: fits GPU memory; 8 on CPU).")
    ] = None
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads for torch (1 is fastest on a busy shared CPU).")
    ] = None


@dataclasses.dataclass(frozen=True)
class StageOptions:
    force: Annotated[bool, typer.Option("--force", help="Redo the stage even where current rows exist.")] = False
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False
    fail_on_errors: Annotated[
        bool,
        typer.Option(
            "--fail-on-errors",
            help="Exit 3 if any item's call failed for good (refused, filtered, provider error); for CI.",
        ),
    ] = False


def backend_options(model: ModelOptions, api: ApiRetryOptions, local: LocalOptions) -> BackendOptions:
    return BackendOptions(
        batch_size=local.batch_size,
        tensor_parallel_size=model.tensor_parallel_size,
        api=api.api(model.base_url, model.api_key_env),
    )


def option_groups(func: F) -> F:
    """Show typer the fields of each option-group parameter of ``func`` as options of its own;
    ``func`` is called with the groups built from them. Field names must be unique across groups."""
    hints = get_type_hints(func, include_extras=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for p in inspect.signature(func).parameters.values():
        kind = hints[p.name]
        if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
            params.append(p.replace(annotation=kind, kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        field_hints = get_type_hints(kind, include_extras=True)
        fields = dataclasses.fields(kind)
        groups[p.name] = (kind, [f.name for f in fields])
        params += [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=field_hints[f.name], default=f.default)
            for f in fields
        ]
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise TypeError(f"{func.__name__}: option names repeat across groups: {names}")

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        for name, (kind, fields) in groups.items():
            kwargs[name] = kind(**{f: kwargs.pop(f) for f in fields})
        return func(**kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command  # type: ignore[return-value]
