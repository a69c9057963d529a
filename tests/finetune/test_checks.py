"""Fast checks without training: resumable checkpoints, --overwrite, disk-full detection, LoRA targets."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.finetune.checkpoints import OWNED_OUTPUTS, disk_full, last_complete_checkpoint
from medsafetybench.finetune.lora import check_target_modules
from medsafetybench.finetune.manifest import DataSource
from medsafetybench.finetune.plan import RunPlan, prepare_out
from medsafetybench.finetune.recipes import recipe_for

_COMPLETE = ("trainer_state.json", "adapter_model.safetensors", "optimizer.pt", "scheduler.pt")


def _checkpoint(root: Path, step: int, files: tuple[str, ...] = _COMPLETE, empty: tuple[str, ...] = ()) -> Path:
    ckpt = root / "checkpoints" / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    for name in files:
        (ckpt / name).write_text("" if name in empty else ("{}" if name.endswith(".json") else "x"))
    return ckpt


def _plan_for(procs: int = 1) -> RunPlan:
    return RunPlan(
        base_model="tiny",
        data=DataSource.in_memory(),
        recipe=recipe_for("paper"),
        demonstrations_sha256="abc",
        qlora=False,
        world_size=procs,
    )


def test_incomplete_newest_checkpoint_is_skipped_with_a_warning(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 2)
    good = _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 12, files=("trainer_state.json", "adapter_model.safetensors"))  # killed mid-save
    _checkpoint(tmp_path, 14, empty=("optimizer.pt",))  # disk full mid-save
    with pytest.warns(UserWarning) as caught:
        assert last_complete_checkpoint(tmp_path / "checkpoints") == good
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "checkpoint-14 (optimizer state is missing or empty)" in messages[0]
    assert "checkpoint-12 (optimizer state is missing or empty)" in messages[1]
    assert last_complete_checkpoint(tmp_path / "nothing") is None
    _checkpoint(tmp_path / "b", 3, files=("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"))
    with pytest.warns(UserWarning, match="trainer_state.json is missing"):
        assert last_complete_checkpoint(tmp_path / "b" / "checkpoints") is None


def test_overwrite_removes_every_output_of_a_run_and_nothing_else(tmp_path: Path) -> None:
    for name in OWNED_OUTPUTS - {"checkpoints", "merged"}:
        (tmp_path / name).write_text("old")
    _checkpoint(tmp_path, 4)
    (tmp_path / "merged").mkdir()
    (tmp_path / "merged" / "model.safetensors").write_text("old")
    (tmp_path / ".adapter.tmp-7").mkdir()
    (tmp_path / ".merged.tmp-123").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "eval").mkdir()
    assert prepare_out(tmp_path, _plan_for(), resume=True, overwrite=True) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval", "notes.txt", "run_plan.json"]
    assert json.loads((tmp_path / "run_plan.json").read_text())["world_size"] == 1


def test_resume_on_another_gpu_count_is_refused(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 4)
    assert prepare_out(tmp_path, _plan_for(2), resume=True, overwrite=False) == str(
        tmp_path / "checkpoints" / "checkpoint-4"
    )
    with pytest.raises(MedSafetyError, match=r"trained on 2 process\(es\), this run has 4; .*Relaunch with 2 GPU"):
        prepare_out(tmp_path, _plan_for(4), resume=True, overwrite=False)


def test_disk_full_is_recognised_from_errno_or_text() -> None:
    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk_full(RuntimeError("[enforce fail at inline_container.cc:603] . No space left on device"))
    assert disk_full(RuntimeError('IoError(Os { code: 28, kind: StorageFull, message: "..." })'))
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("save failed") from inner
    except RuntimeError as outer:
        assert disk_full(outer)
    assert not disk_full(RuntimeError("CUDA out of memory"))
    assert not disk_full(OSError(errno.EACCES, "Permission denied"))


def test_gpt2_conv1d_attention_is_a_valid_lora_target() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=32))
    check_target_modules(model, ("c_attn",), "tiny-gpt2")
    check_target_modules(model, ("attn.c_proj", "mlp.c_fc"), "tiny-gpt2")
    with pytest.raises(MedSafetyError, match=r"no module named q_proj.*LoRA-capable layers are: c_attn, c_fc, c_proj"):
        check_target_modules(model, ("q_proj", "c_attn"), "tiny-gpt2")
    with pytest.raises(MedSafetyError, match="no module named ln_f"):  # a LayerNorm: LoRA cannot wrap it
        check_target_modules(model, ("ln_f",), "tiny-gpt2")


def test_capability_checks_the_adapter_before_fetching_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from medsafetybench.cli import main
    from medsafetybench.finetune import capability

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/base-a"}))
    fetched: list[Any] = []
    monkeypatch.setattr(capability, "load_task_manager", lambda *a, **k: fetched.append(a))
    monkeypatch.setattr(
        sys, "argv", ["medsafetybench", "capability", "--model", "org/base-b", "--adapter", str(adapter)]
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    assert "was trained on org/base-a" in " ".join(capsys.readouterr().err.split())
    assert fetched == []


def test_a_task_that_fails_for_another_reason_names_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("lm_eval", reason="lm-eval (optional extra) is not installed")
    import lm_eval.tasks

    from medsafetybench.finetune.capability import load_task_manager

    class _Manager:
        all_tasks: ClassVar[list[str]] = ["broken_task"]

        def __init__(self, **kwargs: Any) -> None:
            pass

        def load(self, tasks: list[str]) -> None:
            raise ValueError("bad doc_to_text\nmore detail")

    monkeypatch.setattr(lm_eval.tasks, "TaskManager", _Manager)
    with pytest.raises(MedSafetyError) as exc:
        load_task_manager(["broken_task"])
    assert str(exc.value) == "capability task broken_task failed to load: ValueError: bad doc_to_text"
