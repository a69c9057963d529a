"""CLI of the evaluation pipeline: ``eval`` = ``generate`` + ``judge`` + ``report``; and ``compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..errors import MedSafetyError

__all__ = ["register"]

err = Console(stderr=True)

_EVAL_CONFIGS = ("medical", "medical_train", "medical_test", "generated_llama3")

Out = Annotated[Path, typer.Option("--out", help="Run folder (created; shared by all stages).")]
Data = Annotated[
    str | None,
    typer.Option("--data", help="Build folder or ORG/NAME on the Hub (default $MEDSAFETYBENCH_REPO_ID)."),
]
Revision = Annotated[str | None, typer.Option(help="Hub revision of the dataset.")]
Config = Annotated[
    str, typer.Option(help="Config to evaluate: medical_test, medical_train, medical or generated_llama3.")
]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Only requests written by gpt4 | llama2 | llama3.")]
Limit = Annotated[int | None, typer.Option(min=1, help="Evaluate the first N selected items.")]
PerPrinciple = Annotated[
    int | None,
    typer.Option("--per-principle", min=1, help="Stratified limit: the first K items of each principle."),
]
Model = Annotated[str, typer.Option(help="smollm2-135m, a local folder or .gguf, a Hub id, or an API model name.")]
Backend = Annotated[str, typer.Option(help="hf | vllm | openai.")]
Adapter = Annotated[str | None, typer.Option(help="LoRA adapter folder (hf, vllm).")]
Format = Annotated[str, typer.Option("--prompt-format", help="chat (model's chat template) | paper (upstream).")]
Template = Annotated[
    str | None,
    typer.Option(help="Paper template: paper-llama2 | paper-medalpaca (default: from the model name)."),
]
System = Annotated[str | None, typer.Option(help="System prompt (paper default: Llama-2's; chat default: none).")]
MaxNew = Annotated[int, typer.Option(min=1, help="Max new tokens per answer (paper: 512).")]
Dtype = Annotated[str, typer.Option(help="auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float16 | float32.")]
Batch = Annotated[int | None, typer.Option(min=1, help="hf batch size (default: fits GPU memory; 8 on CPU).")]
Threads = Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (1 is fastest on a busy shared CPU).")]
TP = Annotated[int, typer.Option(min=1, help="vLLM tensor parallel size (GPUs).")]
BaseUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint of the model (openai backend).")]
KeyEnv = Annotated[str, typer.Option(help="Environment variable holding the API key.")]
Concurrency = Annotated[int, typer.Option(min=1, help="Concurrent API requests.")]
Retries = Annotated[int, typer.Option(min=0, help="Retries on 429/5xx/timeouts.")]
Backoff = Annotated[float, typer.Option(min=0.0, help="First retry delay in seconds (doubles each retry).")]
Timeout = Annotated[float, typer.Option(min=0.1, help="API request timeout in seconds.")]
Judges = Annotated[
    list[str] | None,
    typer.Option("--judge", help="refusal | rubric:<api model> | rubric:hf:<model>; repeat for several."),
]
JudgeUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint of rubric judges.")]
Force = Annotated[bool, typer.Option("--force", help="Redo the stage even where current rows exist.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
Resamples = Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")]


def _api(base_url: str | None, key_env: str, concurrency: int, retries: int, backoff: float, timeout: float) -> Any:
    from .openai_client import ApiOptions

    return ApiOptions(
        base_url=base_url,
        api_key_env=key_env,
        concurrency=concurrency,
        max_retries=retries,
        backoff_base=backoff,
        timeout=timeout,
    )


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _load_items(
    data: str | None,
    revision: str | None,
    config: str,
    source: str | None,
    limit: int | None,
    per_principle: int | None,
) -> tuple[list[Any], Any]:
    from .. import records
    from ..schema import Source
    from .run import select_items
    from .schema import DataSelection

    if config not in _EVAL_CONFIGS:
        raise MedSafetyError(
            f"--config {config!r} holds no requests to evaluate; use one of {', '.join(_EVAL_CONFIGS)}"
        )
    try:
        src = Source(source) if source is not None else None
    except ValueError:
        raise MedSafetyError(f"--source {source!r}: use gpt4, llama2 or llama3") from None
    items = select_items(records(config, repo_id=data, revision=revision), src, limit, per_principle)  # type: ignore[arg-type]
    if not items:
        raise MedSafetyError(f"no items selected from {config} (source {source})")
    selection = DataSelection(
        data=data, revision=revision, config=config, source=src, limit=limit, per_principle=per_principle
    )
    return items, selection


def _settings(
    backend: str,
    model: str,
    adapter: str | None,
    prompt_format: str,
    template: str | None,
    system_prompt: str | None,
    max_new_tokens: int,
    dtype: str,
    base_url: str | None = None,
) -> tuple[Any, Any]:
    from .models import adapter_sha256, resolve_model
    from .prompts import paper_template_for
    from .schema import GenerationSettings

    if backend not in ("hf", "vllm", "openai"):
        raise MedSafetyError(f"--backend {backend!r}: use hf, vllm or openai")
    if prompt_format not in ("chat", "paper"):
        raise MedSafetyError(f"--prompt-format {prompt_format!r}: use chat or paper")
    if template is not None and template not in ("paper-llama2", "paper-medalpaca"):
        raise MedSafetyError(f"--template {template!r}: use paper-llama2 or paper-medalpaca")
    ref = resolve_model(model) if backend != "openai" else None
    if backend == "hf" and dtype == "auto":
        import torch

        dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    settings = GenerationSettings(
        backend=backend,  # type: ignore[arg-type]
        model=ref.display if ref is not None else model,
        adapter=str(Path(adapter).resolve()) if adapter and Path(adapter).exists() else adapter,
        adapter_sha256=adapter_sha256(adapter) if adapter else None,
        base_url=base_url if backend == "openai" else None,
        prompt_format=prompt_format,  # type: ignore[arg-type]
        template="chat" if prompt_format == "chat" else (template or paper_template_for(model)),
        system_prompt=system_prompt,
        max_new_tokens=max_new_tokens,
        dtype=dtype if backend != "openai" else "n/a",
    )
    return settings, ref


def _run_generate(
    out: Path,
    items: list[Any],
    selection: Any,
    settings: Any,
    ref: Any,
    batch_size: int | None,
    tp: int,
    api: Any,
    force: bool,
    quiet: bool,
) -> None:
    from .run import RunFolder, generate_stage

    def make() -> Any:
        if settings.backend == "hf":
            from .backend_hf import HFGenerator

            return HFGenerator(settings, ref, batch_size=batch_size)
        if settings.backend == "vllm":
            from .backend_vllm import VLLMGenerator

            return VLLMGenerator(settings, ref, tensor_parallel_size=tp)
        from .backend_openai import OpenAIGenerator

        return OpenAIGenerator(settings, api)

    folder = RunFolder(out)
    folder.write_items(items, selection)
    result = generate_stage(folder, items, settings, make, force=force, show_progress=not quiet)
    err.print(f"generate: {result.done} new answer(s), {result.reused} reused, {result.total} items -> {out}")


def _run_judge(
    out: Path,
    judges: list[str],
    data: str | None,
    revision: str | None,
    api: Any,
    batch_size: int | None,
    force: bool,
    quiet: bool,
) -> None:
    from .. import records
    from .judges import make_judge, needs_principles
    from .run import RunFolder, judge_stage

    if not judges:
        raise MedSafetyError("no judge: pass --judge refusal, --judge rubric:<model> or --judge rubric:hf:<model>")
    folder = RunFolder(out)
    if data is None and folder.manifest().selection is not None:
        data, revision = folder.manifest().selection.data, folder.manifest().selection.revision  # type: ignore[union-attr]
    principles = None
    if any(needs_principles(j) for j in judges):
        principles = list(records("principles", repo_id=data, revision=revision))  # type: ignore[arg-type]
    built = [make_judge(j, principles, api, batch_size) for j in judges]  # type: ignore[arg-type]
    for r in judge_stage(folder, built, force=force, show_progress=not quiet):
        err.print(f"{r.name}: {r.done} new judgment(s), {r.reused} reused, {r.total} answers")


def _run_report(out: Path, resamples: int) -> None:
    from .report import print_table, write_report
    from .run import RunFolder

    summary = write_report(RunFolder(out), resamples=resamples)
    print_table(summary)
    err.print(f"report: {out / 'report.md'}, {out / 'summary.json'}")


def register(app: typer.Typer) -> None:
    """Add the eval commands to the main app."""

    @app.command("eval")
    def eval_cmd(
        out: Out,
        model: Model = "smollm2-135m",
        config: Config = "medical_test",
        source: SourceOpt = None,
        limit: Limit = None,
        per_principle: PerPrinciple = None,
        judge: Judges = None,
        prompt_format: Format = "chat",
        backend: Backend = "hf",
        adapter: Adapter = None,
        template: Template = None,
        system_prompt: System = None,
        max_new_tokens: MaxNew = 512,
        dtype: Dtype = "auto",
        batch_size: Batch = None,
        threads: Threads = None,
        tensor_parallel_size: TP = 1,
        base_url: BaseUrl = None,
        api_key_env: KeyEnv = "OPENAI_API_KEY",
        concurrency: Concurrency = 16,
        max_retries: Retries = 5,
        retry_base_delay: Backoff = 1.0,
        timeout: Timeout = 120.0,
        judge_base_url: JudgeUrl = None,
        judge_api_key_env: KeyEnv = "OPENAI_API_KEY",
        data: Data = None,
        revision: Revision = None,
        resamples: Resamples = 2000,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Generate answers, judge them and write the report (resumable; rerun to continue)."""
        _set_threads(threads)
        settings, ref = _settings(
            backend, model, adapter, prompt_format, template, system_prompt, max_new_tokens, dtype, base_url
        )
        items, selection = _load_items(data, revision, config, source, limit, per_principle)
        api = _api(base_url, api_key_env, concurrency, max_retries, retry_base_delay, timeout)
        _run_generate(out, items, selection, settings, ref, batch_size, tensor_parallel_size, api, force, quiet)
        judge_api = _api(judge_base_url, judge_api_key_env, concurrency, max_retries, retry_base_delay, timeout)
        _run_judge(out, judge or ["refusal"], data, revision, judge_api, batch_size, force, quiet)
        _run_report(out, resamples)

    @app.command("generate")
    def generate_cmd(
        out: Out,
        model: Model = "smollm2-135m",
        config: Config = "medical_test",
        source: SourceOpt = None,
        limit: Limit = None,
        per_principle: PerPrinciple = None,
        prompt_format: Format = "chat",
        backend: Backend = "hf",
        adapter: Adapter = None,
        template: Template = None,
        system_prompt: System = None,
        max_new_tokens: MaxNew = 512,
        dtype: Dtype = "auto",
        batch_size: Batch = None,
        threads: Threads = None,
        tensor_parallel_size: TP = 1,
        base_url: BaseUrl = None,
        api_key_env: KeyEnv = "OPENAI_API_KEY",
        concurrency: Concurrency = 16,
        max_retries: Retries = 5,
        retry_base_delay: Backoff = 1.0,
        timeout: Timeout = 120.0,
        data: Data = None,
        revision: Revision = None,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Generate the model's answers into RUN/generations.jsonl (resumable)."""
        _set_threads(threads)
        settings, ref = _settings(
            backend, model, adapter, prompt_format, template, system_prompt, max_new_tokens, dtype, base_url
        )
        items, selection = _load_items(data, revision, config, source, limit, per_principle)
        api = _api(base_url, api_key_env, concurrency, max_retries, retry_base_delay, timeout)
        _run_generate(out, items, selection, settings, ref, batch_size, tensor_parallel_size, api, force, quiet)

    @app.command("judge")
    def judge_cmd(
        out: Out,
        judge: Judges = None,
        judge_base_url: JudgeUrl = None,
        judge_api_key_env: KeyEnv = "OPENAI_API_KEY",
        concurrency: Concurrency = 16,
        max_retries: Retries = 5,
        retry_base_delay: Backoff = 1.0,
        timeout: Timeout = 120.0,
        batch_size: Batch = None,
        threads: Threads = None,
        data: Data = None,
        revision: Revision = None,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Judge the run's current answers into RUN/judgments.jsonl (resumable; several judges allowed)."""
        _set_threads(threads)
        api = _api(judge_base_url, judge_api_key_env, concurrency, max_retries, retry_base_delay, timeout)
        _run_judge(out, judge or [], data, revision, api, batch_size, force, quiet)

    @app.command("report")
    def report_cmd(out: Out, resamples: Resamples = 2000) -> None:
        """Write RUN/report.md, RUN/summary.json and the per-principle chart; print the table."""
        _run_report(out, resamples)

    @app.command("compare")
    def compare_cmd(
        run_a: Annotated[Path, typer.Argument(help="Baseline run folder (A), e.g. before fine-tuning.")],
        run_b: Annotated[Path, typer.Argument(help="Run folder B, e.g. after fine-tuning.")],
        out: Annotated[Path | None, typer.Option(help="Also write compare.json and compare.md here.")] = None,
        resamples: Resamples = 2000,
    ) -> None:
        """Paired differences B - A on shared items, with paired-bootstrap 95% CIs."""
        from .compare import compare_runs, render_comparison
        from .run import RunFolder

        comparison = compare_runs(RunFolder(run_a), RunFolder(run_b), resamples=resamples)
        text = render_comparison(comparison)
        typer.echo(text)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "compare.json").write_text(comparison.model_dump_json(indent=2) + "\n", encoding="utf-8")
            (out / "compare.md").write_text(text, encoding="utf-8")
            err.print(f"wrote {out / 'compare.md'} and {out / 'compare.json'}")
