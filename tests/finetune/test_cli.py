"""The finetune/capability commands: bad input gets one clear line, and a run end to end on a build."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from medsafetybench.cli import main
from medsafetybench.dataset.finetune_subsets import MIX_SIZES, subset_from
from medsafetybench.dataset.records import Demonstration, MixOrder, Origin


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["medsafetybench", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mix", "surgery", "--n", "100"], "unknown mix 'surgery'"),
        (["--mix", "medical", "--n", "950"], "upstream has no medical subset of n=950"),
        (["--mix", "both", "--n", "1900"], "upstream has no both subset of n=1900"),
        (["--mix", "medical", "--n", "100", "--recipe", "dpo"], "unknown recipe 'dpo'"),
        (["--mix", "medical", "--n", "100", "--micro-batch", "5"], "not a multiple of micro_batch 5"),
    ],
)
def test_bad_finetune_input_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code = _run(monkeypatch, "finetune", *args, "--out", str(tmp_path / "o"), "--data", str(tmp_path))
    err = capsys.readouterr().err
    assert code == 1
    assert message in " ".join(err.split())
    assert len(err.strip().splitlines()) <= 2  # one message (rich may wrap a long line once)
    assert not (tmp_path / "o").exists()


def _pool() -> tuple[list[Demonstration], list[MixOrder]]:
    demos = [
        Demonstration(
            id=f"demo-{o.value}-{i:03d}",
            instruction=f"q{i}",
            response=f"a{i}",
            origin=o,
            rank=i,
            request_id=None,
            source_file="f.json",
        )
        for o in Origin
        for i in range(900)
    ]
    orders = []
    for n in MIX_SIZES["both"]:
        ids = [f"demo-medical-{i:03d}" for i in range(n // 2)] + [f"demo-general-{i:03d}" for i in range(n // 2)]
        ids = ids[1::2] + ids[0::2]  # a fixed shuffle
        orders += [MixOrder(n=n, position=p, demonstration_id=d) for p, d in enumerate(ids)]
    return demos, orders


@pytest.mark.parametrize(("mix", "n"), [(m, n) for m, sizes in MIX_SIZES.items() for n in sizes])
def test_every_mix_and_size_selects_its_upstream_subset(mix: str, n: int) -> None:
    demos, orders = _pool()
    subset = subset_from(mix, n, demos, orders)
    assert len(subset) == n and len({d.id for d in subset}) == n
    medical = sum(d.origin == Origin.MEDICAL for d in subset)
    assert medical == {"medical": n, "general": 0, "both": n // 2}[mix]
    if mix != "both":
        assert [d.rank for d in subset] == list(range(n))


@pytest.mark.slow
def test_finetune_command_on_a_build(
    monkeypatch: pytest.MonkeyPatch, fixture_build: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from medsafetybench import finetune_subset

    demos = finetune_subset("medical", 100, fixture_build)
    out = tmp_path / "run"
    code = _run(
        monkeypatch,
        "finetune",
        "--model",
        str(tiny_model_dir),
        "--mix",
        "medical",
        "--n",
        "100",
        "--data",
        str(fixture_build),
        "--recipe",
        "paper",
        "--effective-batch",
        "4",
        "--micro-batch",
        "2",
        "--epochs",
        "1",
        "--out",
        str(out),
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["mix"] == "medical" and manifest["data"]["n"] == 100
    assert manifest["data"]["revision"].startswith("sha256:")
    assert manifest["demonstrations"] == len(demos)
    assert manifest["recipe"]["name"] == "paper" and manifest["base_model"] == str(tiny_model_dir)
    assert (out / "adapter_model.safetensors").is_file()


def test_accelerate_configs_parse_and_cover_the_four_setups() -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    folder = Path(__file__).resolve().parents[2] / "accelerate_configs"
    kinds = {p.stem: ClusterConfig.from_yaml_file(str(p)).distributed_type for p in folder.glob("*.yaml")}
    assert {k: v.name for k, v in kinds.items()} == {
        "single_gpu": "NO",
        "multi_gpu_ddp": "MULTI_GPU",
        "fsdp2": "FSDP",
        "deepspeed_zero3": "DEEPSPEED",
    }


def _finetune_command() -> tuple[object, object]:
    import typer
    from typer.main import get_command

    from medsafetybench.finetune.cli import register

    app = typer.Typer()
    register(app)
    return app, get_command(app).commands["finetune"]  # type: ignore[attr-defined]


def test_recipe_options_are_the_recipe_model_fields() -> None:
    from medsafetybench.finetune.recipes import TUNABLE_SETTINGS

    _, command = _finetune_command()
    options = {p.name: p for p in command.params}  # type: ignore[attr-defined]
    assert set(TUNABLE_SETTINGS) <= set(options)
    assert options["learning_rate"].opts == ["--learning-rate", "--lr"]
    assert options["micro_batch"].help == "Examples per forward pass on one GPU (paper 4, chat 16)"
    assert options["lora_r"].help == "LoRA rank (every recipe: 8)"
    assert options["gradient_checkpointing"].secondary_opts == ["--no-gradient-checkpointing"]
    assert all(options[name].default is None for name in TUNABLE_SETTINGS)  # None: keep the recipe's value


def test_recipe_options_reach_the_recipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from medsafetybench.core.errors import MedSafetyError
    from medsafetybench.finetune import data, recipes

    chosen: list[recipes.Recipe] = []
    real = recipes.recipe_for
    monkeypatch.setattr(recipes, "recipe_for", lambda *a, **k: chosen.append(real(*a, **k)) or chosen[-1])

    def no_data(*args: object) -> None:
        raise MedSafetyError("stop before loading data")

    monkeypatch.setattr(data, "load_mix", no_data)
    app, _ = _finetune_command()
    args = ["finetune", "--mix", "medical", "--n", "100", "--out", str(tmp_path), "--recipe", "chat"]
    args += ["--lr", "0.01", "--target-modules", "q_proj, k_proj", "--no-gradient-checkpointing", "--micro-batch", "8"]
    result = CliRunner().invoke(app, args)  # type: ignore[arg-type]
    assert str(result.exception) == "stop before loading data"
    (recipe,) = chosen
    assert (recipe.name, recipe.learning_rate, recipe.target_modules) == ("chat", 0.01, ("q_proj", "k_proj"))
    assert (recipe.micro_batch, recipe.gradient_checkpointing, recipe.max_length) == (8, False, 1024)
