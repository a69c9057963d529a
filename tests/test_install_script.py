"""scripts/install.py hands pip's index configuration to uv unchanged."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install.py"
_spec = importlib.util.spec_from_file_location("install_script", SCRIPT)
install = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(install)  # type: ignore[union-attr]

LISTING = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/srv/old'
global.timeout='60'
install.index-url='https://mirror.example/simple'
"""


def test_pip_config_becomes_the_same_uv_options() -> None:
    config = install.parse_pip_config(LISTING, {})
    assert config == {
        "find-links": ["/opt/wheels"],  # the environment overrides the config file
        "constraint": ["/etc/xdg/pip/constraints.txt"],
        "extra-index-url": ["file:///opt/pypi/simple", "file:///opt/pypi-more/simple"],
        "index-url": ["https://mirror.example/simple"],
    }
    assert install.uv_args(config) == [
        "--index-strategy", "unsafe-best-match",
        "--index-url", "https://mirror.example/simple",
        "--extra-index-url", "file:///opt/pypi/simple",
        "--extra-index-url", "file:///opt/pypi-more/simple",
        "--find-links", "/opt/wheels",
        "--constraint", "/etc/xdg/pip/constraints.txt",
    ]  # fmt: skip


def test_pip_variables_win_and_an_empty_config_adds_only_the_strategy() -> None:
    env = {"PIP_INDEX_URL": "https://a/simple", "PIP_EXTRA_INDEX_URL": "https://b/simple https://c/simple"}
    config = install.parse_pip_config(LISTING, env)
    assert config["index-url"] == ["https://a/simple"]
    assert config["extra-index-url"] == ["https://b/simple", "https://c/simple"]
    assert install.uv_args(install.parse_pip_config("", {})) == ["--index-strategy", "unsafe-best-match"]


def test_uv_on_path_is_used_and_pip_is_never_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install.shutil, "which", lambda name: "/usr/local/bin/uv")
    monkeypatch.setattr(install.subprocess, "run", lambda *a, **k: pytest.fail("pip install uv was run"))
    assert install.find_uv("/venv/bin/python", allow_install=True) == "/usr/local/bin/uv"
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    assert install.find_uv("/venv/bin/python", allow_install=False) is None
