"""The capability check through lm_eval, wired up with a local task and the tiny model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.finetune.capability import (
    MEDICAL_TASKS,
    CapabilityRun,
    TaskScore,
    capability_report,
    compare_runs,
    load_task_manager,
)


def _lm_eval() -> Any:
    return pytest.importorskip("lm_eval", reason="lm-eval (optional extra) is not installed")


_TASK = """task: {name}
dataset_path: {path}
dataset_kwargs:
  data_files:
    train: {folder}/train.jsonl
    test: {folder}/test.jsonl
test_split: test
fewshot_split: train
fewshot_config:
  sampler: first_n
output_type: multiple_choice
doc_to_text: "{{{{question}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def _task_folder(root: Path, name: str = "msb_tiny_mcq", path: str = "json") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 3), ("test", 10)):
        rows = [
            {"question": f"Which dose is safe for case {i}? A. 1 B. 2 C. 3 D. 4", "answer": i % 4} for i in range(count)
        ]
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / f"{name}.yaml").write_text(_TASK.format(name=name, path=path, folder=root))
    return root


def test_medical_task_names_exist_in_lm_eval() -> None:
    tasks_dir = Path(_lm_eval().__file__).parent / "tasks"
    yaml_text = "\n".join(
        p.read_text(errors="ignore") for p in tasks_dir.rglob("*.yaml") if "med" in str(p) or "mmlu/default" in str(p)
    )
    for task in MEDICAL_TASKS:
        assert f"task: {task}" in yaml_text or f'"task": "{task}"' in yaml_text, task


def test_paired_and_unpaired_standard_errors() -> None:
    before = CapabilityRun(
        model="m",
        adapter=None,
        num_fewshot=3,
        limit=None,
        scores=[
            TaskScore(task="t", value=0.5, stderr=0.1, n=4, per_item={0: 1, 1: 0, 2: 1, 3: 0}),
            TaskScore(task="u", value=0.2, stderr=0.03, n=9),
        ],
    )
    after = CapabilityRun(
        model="m",
        adapter="a",
        num_fewshot=3,
        limit=None,
        scores=[
            TaskScore(task="t", value=0.75, stderr=0.1, n=4, per_item={0: 1, 1: 1, 2: 1, 3: 0}),
            TaskScore(task="u", value=0.3, stderr=0.04, n=9),
        ],
    )
    t, u = compare_runs(before, after)
    assert (t.delta, t.paired, t.n) == (0.25, True, 4)
    assert t.stderr == pytest.approx(0.25)  # diffs 0,1,0,0: sd 0.5 / sqrt(4)
    assert (u.paired, round(u.delta, 6)) == (False, 0.1)
    assert u.stderr == pytest.approx(0.05)


@pytest.mark.slow
def test_local_task_before_and_after_an_adapter(
    tmp_path: Path, tiny_model_dir: Path, tokenizer: Any, demos: list[Any]
) -> None:
    from medsafetybench.finetune import FinetuneRequest, recipe_for, run_finetune

    _lm_eval()
    adapter = tmp_path / "adapter"
    recipe = recipe_for("paper", effective_batch=4, micro_batch=2, epochs=2, learning_rate=0.1, warmup_steps=0)
    run_finetune(FinetuneRequest(demonstrations=demos, model=str(tiny_model_dir), out=adapter, recipe=recipe))
    manager = load_task_manager(["msb_tiny_mcq"], include_path=_task_folder(tmp_path / "task"), include_defaults=False)
    report = capability_report(
        str(tiny_model_dir), ["msb_tiny_mcq"], manager, adapter=str(adapter), num_fewshot=3, device="cpu"
    )
    (before,), (after,) = report.before.scores, report.after.scores  # type: ignore[union-attr]
    assert before.n == after.n == 10 and len(before.per_item) == 10
    assert 0 <= before.value <= 1 and before.stderr is not None
    (change,) = report.changes
    assert change.paired and change.delta == pytest.approx(after.value - before.value)
    with pytest.raises(MedSafetyError, match="was trained on"):
        capability_report("other/base", ["msb_tiny_mcq"], manager, adapter=str(adapter))


def test_offline_hub_task_fails_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets.config
    import huggingface_hub.constants

    _lm_eval()
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    folder = _task_folder(tmp_path / "hub", name="msb_hub_task", path="msb-nonexistent-org/msb-nonexistent-data")
    with pytest.raises(MedSafetyError) as exc:
        load_task_manager(["msb_hub_task"], include_path=folder, include_defaults=False)
    assert str(exc.value).startswith("capability task msb_hub_task: its Hub dataset could not be fetched (")
    assert "\n" not in str(exc.value)
    with pytest.raises(MedSafetyError, match="unknown lm_eval task 'nope'"):
        load_task_manager(["nope"], include_path=folder, include_defaults=False)


def test_missing_lm_eval_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "lm_eval", None)  # makes `import lm_eval` fail like an absent package
    with pytest.raises(MedSafetyError, match=r"needs lm-evaluation-harness: pip install 'lm-eval>="):
        load_task_manager(["medqa_4options"])
