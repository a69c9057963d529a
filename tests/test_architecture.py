"""Layering of the package: which subpackage may import which, and no judge-kind branching outside judges/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "medsafetybench"

# subpackage -> subpackages it must never import
FORBIDDEN = {
    "core": {"dataset", "models", "eval", "finetune", "inspect", "cli"},
    "dataset": {"models", "eval", "finetune", "inspect", "cli"},
    "models": {"dataset", "eval", "finetune", "inspect", "cli"},
    "eval": {"finetune", "inspect", "cli"},
    "finetune": {"eval", "inspect", "cli"},
    "inspect": {"finetune", "cli"},  # the optional inspect_ai integration sits on top of eval
}


def _imports(path: Path) -> set[str]:
    """Absolute ``medsafetybench.<sub>`` names imported by a module (relative imports resolved)."""
    tree = ast.parse(path.read_text("utf-8"))
    package = path.relative_to(PKG.parent).with_suffix("").parts[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                names = (
                    [".".join([*base, node.module])] if node.module else [".".join([*base, a.name]) for a in node.names]
                )
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n for n in names if n.startswith("medsafetybench.")}
    return out


def test_import_scan_sees_relative_imports():
    found = _imports(PKG / "eval" / "backends.py")
    assert {"medsafetybench.models", "medsafetybench.core.registry", "medsafetybench.eval.rows"} <= found


@pytest.mark.parametrize("sub", sorted(FORBIDDEN))
def test_layers_import_only_downwards(sub: str):
    bad = []
    for path in sorted((PKG / sub).rglob("*.py")):
        for name in _imports(path):
            target = name.split(".")[1]
            if target in FORBIDDEN[sub]:
                bad.append(f"{path.relative_to(PKG.parent)} imports {name}")
    assert not bad, "\n".join(bad)


def test_no_judge_kind_branching_outside_the_judges_package():
    from medsafetybench.eval.judges import JUDGES

    names = set(JUDGES.names())
    hits = []
    for path in sorted((PKG / "eval").rglob("*.py")):
        if "judges" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Compare):
                for side in [node.left, *node.comparators]:
                    if isinstance(side, ast.Constant) and side.value in names:
                        hits.append(f"{path.relative_to(PKG.parent)}:{node.lineno} compares with {side.value!r}")
    assert not hits, "\n".join(hits)
