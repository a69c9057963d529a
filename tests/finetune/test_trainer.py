"""Both recipes train the tiny model end to end; outputs, resume and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset.records import Demonstration
from medsafetybench.finetune import FinetuneManifest, FinetuneRequest, LossPoint, Recipe, recipe_for, run_finetune
from medsafetybench.finetune.checkpoints import OWNED_OUTPUTS
from medsafetybench.finetune.formatting import tokenize_demonstrations
from medsafetybench.models import check_adapter_base
from medsafetybench.models.synthetic import TINY_SHAPE, random_llama

pytestmark = pytest.mark.slow


def _recipe(name: str, **extra: Any) -> Recipe:
    # 8 demos, 2 optimizer steps per epoch: batch 4 = micro 2 x accumulation 2
    settings = {"effective_batch": 4, "micro_batch": 2, "epochs": 4, "learning_rate": 1e-1, "warmup_steps": 0}
    return recipe_for(name, **{**settings, **extra})


def _run(demos: list[Demonstration], model: Any, out: Path, recipe: Recipe, **options: Any) -> FinetuneManifest:
    return run_finetune(FinetuneRequest(demonstrations=demos, model=model, out=out, recipe=recipe, **options))


def _logits(model: Any, tokenizer: Any) -> torch.Tensor:
    ids = tokenizer("Explain how to obtain oxycodone", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("recipe_name", ["paper", "chat"])
def test_recipe_trains_saves_and_adapter_changes_outputs(
    recipe_name: str, tokenizer: Any, demos: list[Demonstration], tmp_path: Path
) -> None:
    from peft import PeftModel

    recipe = _recipe(recipe_name)
    model = random_llama({**TINY_SHAPE, "vocab_size": len(tokenizer)}, seed=0)
    manifest = _run(demos, model, tmp_path, recipe, tokenizer=tokenizer, save_steps=3)

    assert manifest.optimizer_steps == 8
    assert manifest.gradient_accumulation_steps == 2 and manifest.precision == "fp32"
    assert manifest.first_loss is not None and manifest.last_loss is not None
    assert manifest.last_loss < manifest.first_loss - 0.1  # the loss goes down
    examples = tokenize_demonstrations(demos, tokenizer, recipe)
    assert manifest.train_tokens == 4 * sum(len(e.input_ids) for e in examples)
    assert manifest.loss_tokens == 4 * sum(e.loss_tokens for e in examples)
    if recipe_name == "paper":
        assert manifest.loss_tokens == manifest.train_tokens
    else:
        assert manifest.loss_tokens < manifest.train_tokens
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "loss_curve.png"):
        assert (tmp_path / name).is_file(), name
    assert {p.name for p in tmp_path.iterdir()} <= OWNED_OUTPUTS  # --overwrite knows every file a run writes
    assert not list(tmp_path.glob(".*tmp*"))  # staging folders and temp files are gone
    assert FinetuneManifest.model_validate_json((tmp_path / "manifest.json").read_text()) == manifest
    losses = [LossPoint.model_validate_json(line) for line in (tmp_path / "loss_log.jsonl").read_text().splitlines()]
    assert [p.step for p in losses] == list(range(1, 9))
    assert losses[0].loss == manifest.first_loss

    base = random_llama({**TINY_SHAPE, "vocab_size": len(tokenizer)}, seed=0)
    before = _logits(base, tokenizer)
    tuned = PeftModel.from_pretrained(base, str(tmp_path))
    after = _logits(tuned, tokenizer)
    assert not torch.allclose(before, after, atol=1e-4)
    adapter_cfg = json.loads((tmp_path / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == recipe.lora_r
    if recipe_name == "paper":
        assert sorted(adapter_cfg["target_modules"]) == ["q_proj", "v_proj"]


def test_padding_free_batch_has_the_same_loss_as_padded_sequences(
    tokenizer: Any, tiny_model: Any, demos: list[Demonstration]
) -> None:
    """No attention crosses example boundaries when the chat recipe concatenates a micro-batch."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    examples = tokenize_demonstrations(demos[:3], tokenizer, recipe_for("chat"))
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]
    tiny_model.eval()
    with torch.no_grad():
        flat = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(rows)
        flat_logits = tiny_model(input_ids=flat["input_ids"], position_ids=flat["position_ids"]).logits[0]
        offset = 0
        for e in examples:
            alone = tiny_model(input_ids=torch.tensor([e.input_ids])).logits[0]
            part = flat_logits[offset : offset + len(e.input_ids)]
            assert torch.allclose(alone, part, atol=1e-5)
            offset += len(e.input_ids)


class _StopAt:
    """A callback that fails at a given step, like a kill or a full disk mid-training."""

    def __init__(self, step: int, error: BaseException) -> None:
        self.step, self.error = step, error

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise self.error


def test_killed_run_resumes_from_its_last_checkpoint(
    tokenizer: Any, demos: list[Demonstration], tmp_path: Path
) -> None:
    recipe = _recipe("paper")
    shape = {**TINY_SHAPE, "vocab_size": len(tokenizer)}
    with pytest.raises(MedSafetyError, match=r"interrupted.*complete checkpoint is .*checkpoint-4 .*rerun the same"):
        _run(
            demos,
            random_llama(shape),
            tmp_path,
            recipe,
            tokenizer=tokenizer,
            save_steps=2,
            callbacks=[_StopAt(5, KeyboardInterrupt())],
        )
    assert not (tmp_path / "manifest.json").exists()
    assert (tmp_path / "checkpoints" / "checkpoint-4").is_dir()
    half = tmp_path / "checkpoints" / "checkpoint-6"  # a save cut short by a kill: state and adapter only
    half.mkdir()
    for name in ("trainer_state.json", "adapter_model.safetensors"):
        (half / name).write_bytes((tmp_path / "checkpoints" / "checkpoint-4" / name).read_bytes())
    with pytest.warns(UserWarning, match="skipping incomplete checkpoint .*checkpoint-6"):
        manifest = _run(demos, random_llama(shape), tmp_path, recipe, tokenizer=tokenizer, save_steps=2)
    assert manifest.resumed_from == "checkpoint-4"
    assert manifest.optimizer_steps == 8
    steps = [json.loads(x)["step"] for x in (tmp_path / "loss_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))  # steps 1-4 come from the checkpoint's log history
    with pytest.raises(MedSafetyError, match="already holds a finished run"):
        _run(demos, random_llama(shape), tmp_path, recipe, tokenizer=tokenizer)


def test_full_disk_keeps_the_checkpoint_and_other_runs_are_not_mixed_in(
    tokenizer: Any, demos: list[Demonstration], tmp_path: Path
) -> None:
    shape = {**TINY_SHAPE, "vocab_size": len(tokenizer)}
    # torch.save / safetensors report a full disk as a RuntimeError whose text names it
    full = RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0: No space left on device")
    with pytest.raises(MedSafetyError, match=r"disk full.*complete checkpoint is .*checkpoint-2 ") as stopped:
        _run(
            demos,
            random_llama(shape),
            tmp_path,
            _recipe("paper"),
            tokenizer=tokenizer,
            save_steps=2,
            callbacks=[_StopAt(3, full)],
        )
    assert "\n" not in str(stopped.value)
    with pytest.raises(MedSafetyError, match=r"checkpoints of a different run \(recipe differ"):
        _run(demos, random_llama(shape), tmp_path, _recipe("paper", lora_r=4), tokenizer=tokenizer)
    with pytest.raises(MedSafetyError, match="drop --no-resume"):
        _run(demos, random_llama(shape), tmp_path, _recipe("paper"), tokenizer=tokenizer, resume=False)
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir()


def test_training_arguments_exist_before_the_model_is_loaded_under_fsdp(
    tiny_model_dir: Path, demos: list[Demonstration], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FSDP2's rank-0-only loading and ZeRO-3's partitioned init only work when from_pretrained runs after
    the TrainingArguments (and accelerate's distributed state) exist."""
    import socket

    import trl
    from accelerate.state import AcceleratorState
    from transformers.distributed.fsdp import is_fsdp_enabled

    from medsafetybench.finetune import trainer

    # what `accelerate launch --config_file accelerate_configs/fsdp2.yaml` exports (one process here)
    for key, value in {
        "ACCELERATE_USE_FSDP": "true",
        "FSDP_VERSION": "2",
        "FSDP_CPU_RAM_EFFICIENT_LOADING": "true",
        "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
        "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT",
        "WORLD_SIZE": "1",
        "RANK": "0",
        "LOCAL_RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
    }.items():
        monkeypatch.setenv(key, value)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MASTER_PORT", str(free.getsockname()[1]))
    calls: list[str] = []
    real_config = trl.SFTConfig

    def config(*args: Any, **kwargs: Any) -> Any:
        calls.append("config")
        return real_config(*args, **kwargs)

    class _Loaded(Exception):
        pass

    def load(*args: Any, **kwargs: Any) -> Any:
        # transformers' own test for FSDP rank-0-only loading (needs the process group up)
        calls.append("load, fsdp cpu-ram-efficient" if is_fsdp_enabled() else "load, every rank")
        raise _Loaded

    monkeypatch.setattr(trl, "SFTConfig", config)
    monkeypatch.setattr(trainer, "load_base_model", load)
    try:
        with pytest.raises(_Loaded):
            _run(demos, str(tiny_model_dir), tmp_path, _recipe("paper"))
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        AcceleratorState._reset_state(reset_partial_state=True)
    assert calls == ["config", "load, fsdp cpu-ram-efficient"]


def test_model_without_target_modules_is_refused(
    tokenizer: Any, tiny_model: Any, demos: list[Demonstration], tmp_path: Path
) -> None:
    recipe = _recipe("paper", target_modules=("c_attn",))
    with pytest.raises(MedSafetyError, match=r"no module named c_attn.*LoRA-capable layers are: .*q_proj"):
        _run(demos, tiny_model, tmp_path, recipe, tokenizer=tokenizer)


def test_adapter_for_another_base_model_is_refused(
    tokenizer: Any, tiny_model_dir: Path, demos: list[Demonstration], tmp_path: Path
) -> None:
    manifest = _run(demos, str(tiny_model_dir), tmp_path, _recipe("paper", epochs=1), merge=True)
    check_adapter_base(tmp_path, str(tiny_model_dir))  # the right base passes
    with pytest.raises(MedSafetyError, match=r"was trained on .*tiny-llama.*not on other/model"):
        check_adapter_base(tmp_path, "other/model")
    with pytest.raises(MedSafetyError, match="not a LoRA adapter folder"):
        check_adapter_base(tmp_path / "checkpoints", str(tiny_model_dir))

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert manifest.merged_dir == str(tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(tmp_path))
    assert torch.allclose(_logits(merged, tokenizer), _logits(with_adapter, tokenizer), atol=1e-4)
