"""A new user's first run, timed on a fresh clone: set-up, build, validate, two demo evaluations, tests.

    python3 benchmarks/first_run.py            # writes benchmarks/results/first_run.{json,md}

Steps, each a fresh process in a fresh ``git clone`` of this repository's HEAD (commit first) with an
empty model cache (``$MEDSAFETYBENCH_CACHE`` inside the work folder, so the first evaluation converts
the embedded GGUF as a new user's would):

1. ``make setup`` (venv + install; ``--installer pip`` for the pip-only baseline);
2. ``make demo`` (build, validate and the 18-item evaluation; per-step times from its ``[demo]`` lines;
   load seconds and tokens/s from the run's ``run.json``). setup + demo = a fresh clone's ``make demo``;
3. the same evaluation into a new run folder (the cache is now warm);
4. the same evaluation with ``--quantize int8``;
5. ``make test`` (skip with ``--skip-tests``).

The machine is described in the output (CPU, cores, memory, load average before and after): on a
shared machine other jobs slow every step, so read the load average next to the times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVAL = "--model smollm2-135m --data runs/medsafetybench --config medical_test --per-principle 2 "
EVAL += "--max-new-tokens 128 --judge refusal"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists() and (m := re.search(r"model name\s*:\s*(.+)", info.read_text())):
        cpu = m.group(1).strip()
    mem = None
    if Path("/proc/meminfo").exists() and (m := re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())):
        mem = round(int(m.group(1)) / 1024**2, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def timed(name: str, cmd: str, cwd: Path, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run a shell command, its output appended to ``log``; wall seconds, exit code, load average."""
    print(f"[first_run] {name}: {cmd}", flush=True)
    start = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n===== {name}: {cmd}\n")
        out.flush()
        proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    print(f"[first_run] {name}: {seconds:.1f} s (exit {proc.returncode})", flush=True)
    return {"seconds": round(seconds, 1), "exit": proc.returncode, "load_average_1min": round(os.getloadavg()[0], 2)}


def generation(run_dir: Path) -> dict[str, Any] | None:
    """Load seconds and tokens/s of the run's last generation stage (from ``run.json``)."""
    manifest = run_dir / "run.json"
    if not manifest.exists():
        return None
    last = json.loads(manifest.read_text()).get("last_generation")
    if not last:
        return None
    return {
        "load_seconds": last["load_seconds"],
        "generate_seconds": last["generate_seconds"],
        "new_tokens": last["new_tokens"],
        "tokens_per_s": round(last["new_tokens"] / last["generate_seconds"], 1),
        "model_files": last["model_files"],
    }


def demo_steps(log: Path, since: int) -> dict[str, float]:
    """The ``[demo] step: N s`` lines that ``scripts/demo.sh`` printed after offset ``since`` of the log."""
    text = log.read_text()[since:]
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^\[demo\] (\w+): ([\d.]+) s$", text, re.M)}


def markdown(result: dict[str, Any]) -> str:
    m, s = result["machine"], result["steps"]
    lines = [
        "# First run on a fresh clone",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}; "
        f"commit {result['commit'][:12]}, installer {result['installer']}. 1-min load average before: "
        f"{result['load_average_before']}. {result['note']}",
        "",
        "| step | wall s | exit | load avg after | detail |",
        "|---|---|---|---|---|",
    ]
    for name, step in s.items():
        detail = ""
        if gen := step.get("generation"):
            detail = (
                f"model load {gen['load_seconds']:.1f} s, generate {gen['generate_seconds']:.1f} s, "
                f"{gen['tokens_per_s']} tok/s ({gen['new_tokens']} tokens)"
            )
        if parts := step.get("demo_steps"):
            detail = ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()) + (f"; {detail}" if detail else "")
        if step.get("summary"):
            detail = step["summary"]
        lines.append(f"| {name} | {step['seconds']} | {step['exit']} | {step['load_average_1min']} | {detail} |")
    if "fresh_clone_make_demo_seconds" in result:
        lines += ["", f"Fresh clone `make demo` (setup + demo): **{result['fresh_clone_make_demo_seconds']} s**."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=ROOT, help="repository to clone (its HEAD)")
    ap.add_argument("--upstream", type=Path, default=ROOT.parent / "shared" / "upstream")
    ap.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto")
    ap.add_argument("--workdir", type=Path, help="where to clone (default: a temporary folder, removed after)")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument(
        "--working-tree", action="store_true", help="copy the working tree's files instead of cloning HEAD (trial runs)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "first_run.json")
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="msb-first-run-"))
    work.mkdir(parents=True, exist_ok=True)
    clone, log = work / "clone", work / "first_run.log"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MEDSAFETYBENCH_REPO_ID")}
    env |= {"MEDSAFETYBENCH_CACHE": str(work / "cache"), "UPSTREAM": str(args.upstream.resolve())}
    env |= {"INSTALLER": args.installer, "PYTHON": env.get("PYTHON", "python3")}
    commit = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    result: dict[str, Any] = {
        "machine": machine(),
        "commit": commit.stdout.strip(),
        "installer": args.installer,
        "load_average_before": round(os.getloadavg()[0], 2),
        "note": "Other jobs may share these cores: compare times with the load average.",
        "steps": {},
    }
    steps = result["steps"]
    try:
        if args.working_tree:
            files = subprocess.run(
                ["git", "-C", str(args.repo), "ls-files", "-co", "--exclude-standard", "-z"],
                capture_output=True, check=True,
            ).stdout.decode().split("\0")  # fmt: skip
            for name in filter(None, files):
                if (src := args.repo / name).is_file():
                    (clone / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, clone / name)
        else:
            subprocess.run(["git", "clone", "--quiet", str(args.repo), str(clone)], check=True)
        steps["setup"] = timed("setup", "make setup", clone, env, log)
        since = len(log.read_text())
        steps["demo"] = timed("demo", "make demo", clone, env, log)
        steps["demo"]["demo_steps"] = demo_steps(log, since)
        steps["demo"]["generation"] = generation(clone / "runs" / "demo-smollm2")
        eval_cmd = f".venv/bin/medsafetybench eval {EVAL}"
        steps["second_eval"] = timed("second_eval", f"{eval_cmd} --out runs/demo-second", clone, env, log)
        steps["second_eval"]["generation"] = generation(clone / "runs" / "demo-second")
        steps["int8_eval"] = timed("int8_eval", f"{eval_cmd} --quantize int8 --out runs/demo-int8", clone, env, log)
        steps["int8_eval"]["generation"] = generation(clone / "runs" / "demo-int8")
        if not args.skip_tests:
            since = len(log.read_text())
            steps["test"] = timed("test", "make test", clone, env, log)
            tail = [ln for ln in log.read_text()[since:].splitlines() if re.search(r"\d+ (passed|failed)", ln)]
            steps["test"]["summary"] = tail[-1].strip("= ") if tail else ""
        result["fresh_clone_make_demo_seconds"] = round(steps["setup"]["seconds"] + steps["demo"]["seconds"], 1)
    finally:
        result["log"] = str(log)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(result))
        print(markdown(result))
        if args.workdir is None:
            shutil.rmtree(clone, ignore_errors=True)  # the log and cache stay for inspection
    sys.exit(max((s["exit"] for s in steps.values()), default=0))


if __name__ == "__main__":
    main()
