"""CLI commands of the fine-tuning pipeline: ``finetune`` and ``capability``.

The recipe options of ``finetune`` (one per ``TUNABLE_SETTINGS`` field) are built from the ``Recipe`` model:
name, type and help text come from its fields, and the defaults shown from the recipes themselves.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from .recipes import RECIPES, TUNABLE_SETTINGS, Recipe

__all__ = ["register"]

_ALIASES = {"learning_rate": ("--lr",)}
"""Extra flags of a recipe option (besides ``--field-name``)."""


def _split_csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _recipe_option(name: str) -> inspect.Parameter:
    """A ``--name`` option (default None: keep the recipe's value) for the recipe field ``name``."""
    field = Recipe.model_fields[name]
    values = {recipe: _shown(getattr(RECIPES[recipe], name)) for recipe in RECIPES}
    if len(set(values.values())) == 1:
        defaults = f"every recipe: {next(iter(values.values()))}"
    else:
        defaults = ", ".join(f"{recipe} {value}" for recipe, value in values.items())
    flag = "--" + name.replace("_", "-")
    kind = field.annotation if field.annotation in (int, float, bool) else str  # str: parsed by the model
    decls = (f"{flag}/--no-{flag[2:]}",) if kind is bool else (flag, *_ALIASES.get(name, ()))
    option = typer.Option(*decls, help=f"{(field.description or name).rstrip('.')} ({defaults})")
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[kind | None, option]
    )


def _with_recipe_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` one option per tunable recipe setting, passed to it as ``recipe_settings``."""
    own = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in inspect.signature(command, eval_str=True).parameters.values()
        if p.name != "recipe_settings"
    ]
    params = own + [_recipe_option(name) for name in TUNABLE_SETTINGS]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        settings = {name: kwargs.pop(name) for name in TUNABLE_SETTINGS}
        command(recipe_settings=settings, **kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer reads the signature above, not the wrapped function's
    return wrapper


def _finetune(
    mix: Annotated[str, typer.Option(help="Upstream training mix: medical | general | both")],
    n: Annotated[int, typer.Option(help="Subset size: 100..900 (both: 100..1800), step 100")],
    out: Annotated[Path, typer.Option(help="Output folder: adapter, tokenizer, manifest, loss log, checkpoints")],
    recipe_settings: dict[str, Any],
    model: Annotated[
        str, typer.Option(help="Base model: smollm2-135m (embedded), a folder, a .gguf file or a Hub id")
    ] = "smollm2-135m",
    recipe: Annotated[str, typer.Option(help="paper (upstream Alpaca-LoRA) | chat (chat template)")] = "paper",
    data: Annotated[
        str | None, typer.Option(help="Dataset build folder or Hub repo id (default $MEDSAFETYBENCH_REPO_ID)")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Hub revision of the dataset")] = None,
    qlora: Annotated[bool, typer.Option(help="Load the base in 4-bit NF4 (QLoRA; CUDA + bitsandbytes)")] = False,
    merge: Annotated[bool, typer.Option(help="Also write base + adapter merged to OUT/merged")] = False,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in OUT")] = True,
    overwrite: Annotated[bool, typer.Option(help="Discard a finished run or checkpoints in OUT")] = False,
    save_steps: Annotated[int, typer.Option(min=1, help="Checkpoint every N optimizer steps")] = 5,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N optimizer steps (smoke runs)")] = None,
    benign: Annotated[
        int,
        typer.Option(
            min=0, help="Also train on K medical_benign train items (request + reference answer; against over-refusal)"
        ),
    ] = 0,
) -> None:
    """Fine-tune a causal LM with LoRA on an exact upstream safety mix (TRL SFTTrainer + peft)."""
    from rich.console import Console

    from .data import load_mix
    from .plan import FinetuneRequest
    from .recipes import recipe_for
    from .run import run_finetune

    chosen = recipe_for(recipe, **recipe_settings)
    demos, source = load_mix(mix, n, data, revision, benign)
    console = Console(stderr=True)
    extra = f" + {benign} benign" if benign else ""
    console.print(f"fine-tuning {model} on {mix} n={n}{extra} ({len(demos)} demonstrations), recipe {chosen.name}")
    request = FinetuneRequest(
        demonstrations=demos,
        model=model,
        out=out,
        recipe=chosen,
        data=source,
        qlora=qlora,
        merge=merge,
        resume=resume,
        overwrite=overwrite,
        save_steps=save_steps,
        max_steps=max_steps,
    )
    manifest = run_finetune(request)
    loss = (
        f", loss {manifest.first_loss:.3f} -> {manifest.last_loss:.3f}"
        if manifest.first_loss is not None and manifest.last_loss is not None
        else ""
    )
    flags = (f" --data {data}" if data else "") + (f" --revision {revision}" if revision else "")
    flags += " --prompt-format paper" if chosen.name == "paper" else ""
    console.print(
        f"wrote {out} ({manifest.optimizer_steps} steps{loss}, {manifest.wall_time_s:.0f}s); evaluate with: "
        f"medsafetybench eval --model {model} --adapter {out}{flags} --out {out}-eval",
        highlight=False,
        soft_wrap=True,
    )


def _capability(
    model: Annotated[str, typer.Option(help="Base model (as given to finetune)")] = "smollm2-135m",
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter folder: report before and after")] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated lm_eval tasks (default: medical set)")] = None,
    num_fewshot: Annotated[int, typer.Option(help="Few-shot examples (paper: 3)")] = 3,
    limit: Annotated[int | None, typer.Option(help="At most N questions per task (quick checks)")] = None,
    batch_size: Annotated[str, typer.Option(help="lm_eval batch size (or auto)")] = "8",
    include_path: Annotated[Path | None, typer.Option(help="Folder of extra lm_eval task YAMLs")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the report as JSON here")] = None,
) -> None:
    """Medical-skill check (MedQA, MedMCQA, PubMedQA, MMLU medical) via lm-evaluation-harness."""
    from rich.console import Console
    from rich.table import Table

    from ..core.files import atomic_write_text
    from ..models import check_adapter_base
    from . import capability

    if adapter:
        check_adapter_base(adapter, model)  # before lm_eval fetches any task data
    names = _split_csv(tasks) or list(capability.MEDICAL_TASKS)
    manager = capability.load_task_manager(names, include_path=include_path)
    report = capability.capability_report(
        model,
        names,
        manager,
        adapter=adapter,
        num_fewshot=num_fewshot,
        limit=limit,
        batch_size=int(batch_size) if batch_size.isdigit() else batch_size,
    )
    if out is not None:
        atomic_write_text(out, report.model_dump_json(indent=2) + "\n")
    table = Table(title=f"capability ({num_fewshot}-shot accuracy)")
    for col in ("task", "n", "before", "after", "change", "s.e."):
        table.add_column(col)
    after = {s.task: s for s in report.after.scores} if report.after else {}
    changes = {c.task: c for c in report.changes}
    for s in report.before.scores:
        c = changes.get(s.task)
        table.add_row(
            s.task,
            str(s.n),
            f"{s.value:.3f}",
            f"{after[s.task].value:.3f}" if s.task in after else "-",
            f"{c.delta:+.3f}" if c else "-",
            f"{c.stderr:.3f}{'' if c.paired else ' (unpaired)'}" if c and c.stderr is not None else "-",
        )
    Console().print(table)
    if out is None:
        typer.echo(json.dumps([c.model_dump() for c in report.changes]))


def register(app: typer.Typer) -> None:
    """Add the fine-tune commands to the main app."""
    app.command("finetune")(_with_recipe_options(_finetune))
    app.command("capability")(_capability)
