"""Time the full build (all configs) and the full validation from ../shared/upstream.

Usage: python benchmarks/build_and_validate.py [--upstream DIR] [--repeats 3]
Writes benchmarks/results/build_validate.json and .md. Goals (issue): build < 15 s, validate < 10 s
on the 2-core reference machine. Each repeat runs in a fresh process (imports included), as a user would.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", default=str(HERE.parent.parent / "shared" / "upstream"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cli = [sys.executable, "-m", "medsafetybench"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "medsafetybench"
        build = [timed([*cli, "build", "--source", args.upstream, "--out", str(out)]) for _ in range(args.repeats)]
        validate = [timed([*cli, "validate", str(out)]) for _ in range(args.repeats)]
        imports = [timed([sys.executable, "-c", "import medsafetybench.cli"]) for _ in range(args.repeats)]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "build_s": [round(x, 2) for x in build],
        "validate_s": [round(x, 2) for x in validate],
        "cli_import_s": [round(x, 2) for x in imports],
        "build_median_s": round(statistics.median(build), 2),
        "validate_median_s": round(statistics.median(validate), 2),
    }
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    (res / "build_validate.json").write_text(json.dumps(result, indent=2) + "\n")
    (res / "build_validate.md").write_text(
        "# Build and validate, full data\n\n"
        f"Machine: {result['machine']}, Python {result['python']}. Wall time of the CLI in a fresh process "
        f"(imports included), {args.repeats} runs each.\n\n"
        "| step | median (s) | runs (s) | goal |\n|---|---|---|---|\n"
        f"| `medsafetybench build` (all configs) | {result['build_median_s']} | {result['build_s']} | < 15 |\n"
        f"| `medsafetybench validate` (all checks) | {result['validate_median_s']} | {result['validate_s']} | < 10 |\n"
        f"| `import medsafetybench.cli` | {statistics.median(imports):.2f} | {result['cli_import_s']} | |\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
