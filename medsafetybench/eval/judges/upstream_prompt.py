"""The paper's judge prompt, read at run time from upstream's own code (never imported or executed).

Upstream's ``exps/text_for_gpt_eval.py`` holds the usage policies (``usage_policy_dict``) and the
1-5 ``rubric``; ``exps/exp02_eval_responses.py`` holds the prompt template (an f-string in
``eval_using_gpt``) and the judge call (``partial(llm_openai, model_name=..., sys_prompt=...,
temperature=..., max_new_tokens=...)``). Both files are parsed with :mod:`ast` and hash-checked
against the pinned sha256; no text of theirs is stored in this package.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import MedSafetyError
from ...core.files import sha256_file, sha256_text

__all__ = [
    "DEFAULT_UPSTREAM",
    "JUDGE_FILES",
    "UpstreamPrompt",
    "judge_files_dir",
    "read_upstream_prompt",
]

JUDGE_FILES: dict[str, tuple[str, int]] = {
    "exps/text_for_gpt_eval.py": ("e71e6108bb66a18dea28e4a25eb5b6ecef134b52f7937f10721a0a9e5ff1f605", 8008),
    "exps/exp02_eval_responses.py": ("f357476babe7eec53a108b298374c9695b912efa17ba5e9d82b10d884f6d83c7", 6800),
}
"""Upstream's judge files at the pinned commit: path -> (sha256, bytes), as in its SOURCE.txt."""

DEFAULT_UPSTREAM = Path("../shared/upstream")
MEDICAL_POLICY_KEYS = ("med_harm_gpt4", "med_harm_llama2")
"""``usage_policy_dict`` keys of upstream's medical datasets (its general ones are ``hex_phi*``)."""


@dataclass(frozen=True)
class UpstreamPrompt:
    """What upstream's judge sends: the template parts, the policy, the rubric and the call settings."""

    parts: tuple[str | tuple[str], ...]
    """The template: literal text, or ``(name,)`` for a ``{name}`` field."""
    usage_policy: str
    rubric: str
    model: str
    system_prompt: str
    temperature: float
    max_tokens: int
    source_sha256: str
    """Hash of both files (the judge's prompt version)."""

    def render(self, question: str, response: str) -> str:
        """The prompt for one request and answer, as upstream's f-string builds it."""
        values = {"usage_policy": self.usage_policy, "question": question, "response": response, "rubric": self.rubric}
        return "".join(p if isinstance(p, str) else values[p[0]] for p in self.parts)


def judge_files_dir(upstream: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding upstream's ``exps/`` judge files: ``upstream``, else ``../shared/upstream``
    when present, else the pinned release archive (downloaded once, hash-checked)."""
    if upstream is not None:
        root = Path(upstream)
        if not root.is_dir():
            raise MedSafetyError(f"--upstream {root}: the folder does not exist")
        return root
    if all((DEFAULT_UPSTREAM / p).is_file() for p in JUDGE_FILES):
        return DEFAULT_UPSTREAM
    from ...dataset.fetch import cache_root, fetch_upstream
    from ...dataset.upstream_manifest import UpstreamFile, pinned_manifest

    files = [UpstreamFile(path=p, sha256=h, bytes=n) for p, (h, n) in JUDGE_FILES.items()]
    manifest = pinned_manifest().model_copy(update={"files": files})
    return fetch_upstream(manifest, cache_root() / "judge-files")


def _read(root: Path, rel: str) -> ast.Module:
    path = root / rel
    if not path.is_file():
        raise MedSafetyError(f"{path}: upstream judge file missing (pass --upstream DIR holding exps/)")
    sha, _ = JUDGE_FILES[rel]
    got = sha256_file(path)
    if got != sha:
        raise MedSafetyError(f"{path}: sha256 {got} is not the pinned {sha}")
    return ast.parse(path.read_bytes().decode("utf-8"), filename=str(path))


def _assignments(tree: ast.Module) -> dict[str, ast.expr]:
    return {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}


def _string(node: ast.expr, what: str) -> str:
    """A plain string, or an f-string without fields."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values)  # type: ignore[attr-defined]
    raise MedSafetyError(f"upstream {what}: not a string literal")


def _policy(defs: dict[str, ast.expr]) -> str:
    table = defs.get("usage_policy_dict")
    if not isinstance(table, ast.Dict):
        raise MedSafetyError("upstream text_for_gpt_eval.py: no usage_policy_dict")
    names = {
        k.value: v.id
        for k, v in zip(table.keys, table.values, strict=True)
        if isinstance(k, ast.Constant) and isinstance(v, ast.Name)
    }
    chosen = {names.get(k) for k in MEDICAL_POLICY_KEYS}
    if len(chosen) != 1 or None in chosen:
        raise MedSafetyError(f"upstream usage_policy_dict: {', '.join(MEDICAL_POLICY_KEYS)} name different policies")
    name = chosen.pop()
    assert name is not None
    return _string(defs[name], name)


def _template(tree: ast.Module) -> tuple[str | tuple[str], ...]:
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "eval_prompt" for t in targets):
            assert isinstance(node, ast.Assign)
            if not isinstance(node.value, ast.JoinedStr):
                break
            parts: list[str | tuple[str]] = []
            for v in node.value.values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    parts.append(v.value)
                elif (
                    isinstance(v, ast.FormattedValue)
                    and isinstance(v.value, ast.Name)
                    and v.conversion == -1
                    and v.format_spec is None
                ):
                    parts.append((v.value.id,))
                else:
                    raise MedSafetyError("upstream eval_prompt: a field other than a plain {name}")
            fields = {p[0] for p in parts if isinstance(p, tuple)}
            if fields != {"usage_policy", "question", "response", "rubric"}:
                raise MedSafetyError(f"upstream eval_prompt: unexpected fields {sorted(fields)}")
            return tuple(parts)
    raise MedSafetyError("upstream exp02_eval_responses.py: no eval_prompt f-string")


def _judge_call(tree: ast.Module) -> dict[str, object]:
    """The keywords of the (uncommented) ``gpt = partial(llm_openai, ...)``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "gpt" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            return {k.arg: ast.literal_eval(k.value) for k in node.value.keywords if k.arg}
    raise MedSafetyError("upstream exp02_eval_responses.py: no `gpt = partial(llm_openai, ...)` call")


def read_upstream_prompt(root: Path) -> UpstreamPrompt:
    """Parse (never execute) upstream's two judge files under ``root`` after checking their hashes."""
    text_tree = _read(root, "exps/text_for_gpt_eval.py")
    eval_tree = _read(root, "exps/exp02_eval_responses.py")
    defs = _assignments(text_tree)
    if "rubric" not in defs:
        raise MedSafetyError("upstream text_for_gpt_eval.py: no rubric")
    call = _judge_call(eval_tree)
    try:
        model, system = str(call["model_name"]), str(call["sys_prompt"])
        temperature, max_tokens = float(call["temperature"]), int(call["max_new_tokens"])  # type: ignore[arg-type]
    except KeyError as exc:
        raise MedSafetyError(f"upstream judge call lacks {exc.args[0]}=") from None
    return UpstreamPrompt(
        parts=_template(eval_tree),
        usage_policy=_policy(defs),
        rubric=_string(defs["rubric"], "rubric"),
        model=model,
        system_prompt=system,
        temperature=temperature,
        max_tokens=max_tokens,
        source_sha256=sha256_text("".join(h for h, _ in JUDGE_FILES.values())),
    )
