"""The inspect tasks: ``medsafetybench`` (harmful requests) and ``medsafetybench_benign`` (over-refusal)."""

from __future__ import annotations

from collections.abc import Sequence

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig
from inspect_ai.solver import generate

from ..core.errors import MedSafetyError
from ..eval.judges import DEFAULT_JUDGES
from .samples import eval_items, item_to_sample, pinned_revision, request_prompt
from .scorers import GRADER_ROLE, judge_scorer

__all__ = ["build_task", "medsafetybench", "medsafetybench_benign"]

MAX_TOKENS = 512  # medsafetybench eval's --max-new-tokens default (the paper's)
DEFAULT_JUDGE = ",".join(DEFAULT_JUDGES)  # what medsafetybench eval runs without --judge


def _judges(judge: str | Sequence[str]) -> list[str]:
    specs = [s.strip() for s in judge.split(",")] if isinstance(judge, str) else [str(s).strip() for s in judge]
    specs = [s for s in specs if s]
    if not specs:
        raise MedSafetyError("judge: name at least one judge, e.g. refusal or rubric")
    return specs


def build_task(
    config: str,
    split: str | None,
    source: str | None,
    per_principle: int | None,
    prompt_format: str,
    template: str | None,
    system_prompt: str | None,
    data: str | None,
    revision: str | None,
    judge: str | Sequence[str],
    grader: str | None,
    max_tokens: int,
) -> Task:
    """A task on the selected items of ``config``, scored by each judge in ``judge``."""
    revision = pinned_revision(data, revision)
    items = eval_items(config, split, source, per_principle, data, revision)
    scorers = [judge_scorer(spec, GRADER_ROLE, data, revision) for spec in _judges(judge)]
    return Task(
        dataset=MemoryDataset([item_to_sample(i) for i in items], name=f"medsafetybench/{config}"),
        solver=[request_prompt(prompt_format, template, system_prompt), generate()],
        scorer=scorers,
        config=GenerateConfig(temperature=0.0, max_tokens=max_tokens),
        model_roles={GRADER_ROLE: grader} if grader else None,
        epochs=1,
        metadata={
            "config": config,
            "split": split,
            "source": source,
            "per_principle": per_principle,
            "data": data,
            "revision": revision,
        },
    )


@task
def medsafetybench(
    config: str = "medical_test",
    split: str | None = None,
    source: str | None = None,
    per_principle: int | None = None,
    prompt_format: str = "chat",
    template: str | None = None,
    system_prompt: str | None = None,
    data: str | None = None,
    revision: str | None = None,
    judge: str | list[str] = DEFAULT_JUDGE,
    grader: str | None = None,
    max_tokens: int = MAX_TOKENS,
) -> Task:
    """MedSafetyBench's harmful medical requests: how far the model complies (lower is safer).

    Args:
      config: dataset config (``medical_test``, ``medical_train``, ``medical``, ``generated_llama3``).
      split: one split of the config (default: all of its splits; ``medical_benign``: test).
      source: only requests written by ``gpt4`` or ``llama2`` (``llama3`` for the generated pool).
      per_principle: the first K requests of each principle, in dataset order.
      prompt_format: ``chat`` (the model's chat template) or ``paper`` (the paper's prompt text).
      template: ``paper-llama2`` or ``paper-medalpaca`` (default: from the model name).
      system_prompt: a system turn (chat) or the paper template's system text.
      data: a build folder or Hub repo id (default: ``$MEDSAFETYBENCH_REPO_ID``).
      revision: Hub revision (default: the pinned release tag; none for a folder).
      judge: judges, comma-separated: ``refusal`` (offline proxy), ``rubric`` (1-5, asks the
        ``grader`` model role), or any registered judge spec.
      grader: the grader model (same as ``--model-role grader=<provider/model>``).
      max_tokens: max new tokens per answer.
    """
    return build_task(
        config, split, source, per_principle, prompt_format, template, system_prompt, data, revision, judge,
        grader, max_tokens,
    )  # fmt: skip


@task
def medsafetybench_benign(
    config: str = "medical_benign",
    split: str | None = None,
    per_principle: int | None = None,
    prompt_format: str = "chat",
    template: str | None = None,
    system_prompt: str | None = None,
    data: str | None = None,
    revision: str | None = None,
    judge: str | list[str] = DEFAULT_JUDGE,
    grader: str | None = None,
    max_tokens: int = MAX_TOKENS,
) -> Task:
    """The benign twins of the benchmark's requests: how often the model refuses what it should answer.

    Same parameters as ``medsafetybench`` (no ``source``: benign requests are written for this package);
    ``judge`` takes any registered judge, e.g. the offline ``refusal`` proxy or an over-refusal judge.
    """
    return build_task(
        config, split, None, per_principle, prompt_format, template, system_prompt, data, revision, judge,
        grader, max_tokens,
    )  # fmt: skip
