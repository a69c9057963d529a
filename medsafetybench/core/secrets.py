"""Secrets redaction by value: the one place that masks API keys and tokens in text.

Every console line, error, row and file writer passes its text through :func:`redact`. It masks
the actual values of the secret environment variables (``HF_TOKEN``, ``OPENAI_API_KEY`` and any
variable registered with :func:`register_secret_env`, e.g. an ``--api-key-env``), whatever their
shape, plus anything shaped like a key (``sk-...``, ``hf_...``).
"""

from __future__ import annotations

import json
import os
import re

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "SECRET_ENVS", "redact", "register_secret_env"]

REDACTED = "[redacted key]"
MIN_SECRET_LENGTH = 6
"""Shorter values (``1``, ``x``...) are no secret and would mask ordinary text."""

SECRET_ENVS: set[str] = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY"}
_SHAPED = re.compile(r"\b(?:sk|hf)[-_][A-Za-z0-9_\-]{6,}")


def register_secret_env(name: str) -> None:
    """Also redact the value of the environment variable ``name``."""
    SECRET_ENVS.add(name)


def _values() -> list[str]:
    values = {os.environ.get(name, "").strip() for name in SECRET_ENVS}
    forms = {form for v in values if len(v) >= MIN_SECRET_LENGTH for form in (v, json.dumps(v)[1:-1])}
    return sorted(forms, key=len, reverse=True)  # the longest first: a key containing another is masked whole


def redact(text: str) -> str:
    """``text`` with every secret value (as is and JSON-escaped) and every key-shaped string masked."""
    for value in _values():
        if value in text:
            text = text.replace(value, REDACTED)
    return _SHAPED.sub(REDACTED, text)
