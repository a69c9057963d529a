"""The ``medsafetybench`` command line."""

from __future__ import annotations

import os
import sys

import click
import typer
from rich.console import Console
from rich.markup import escape

from .core.errors import MedSafetyError
from .core.secrets import redact

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: options on their own line, readable at 80 columns
    help="MedSafetyBench: build, validate and publish the dataset; evaluate and fine-tune models.",
)
err = Console(stderr=True)


def _register_plugins() -> None:
    from .dataset.cli import register as register_dataset
    from .eval.cli import register as register_eval
    from .finetune.cli import register as register_finetune

    register_dataset(app)
    register_eval(app)
    register_finetune(app)


_register_plugins()


_EXTRAS = {
    "torch": "install the torch build for your machine (https://pytorch.org), then pip install "
    "'medsafetybench[eval]' (eval) or 'medsafetybench[train]' (finetune)",
    "transformers": "pip install 'medsafetybench[eval]' (eval) or 'medsafetybench[train]' (finetune)",
    "peft": "pip install 'medsafetybench[eval]' (eval) or 'medsafetybench[train]' (finetune)",
    "matplotlib": "pip install 'medsafetybench[eval]'",
    "openai": "pip install 'medsafetybench[eval]'",
    "gguf": "pip install 'medsafetybench[eval]'",
    "trl": "pip install 'medsafetybench[train]'",
    "accelerate": "pip install 'medsafetybench[train]'",
    "lm_eval": "pip install 'medsafetybench[capability]'",
}


def _missing_extra(module: str) -> str | None:
    """The install line for a missing optional dependency (None: not one of ours)."""
    return _EXTRAS.get(module.split(".")[0])


def _quiet_libraries() -> None:
    """Logs that stay readable in a file: no tqdm bars (carriage returns) when stderr is not a terminal,
    and no library warnings a user cannot act on (set the variables yourself to override)."""
    if not sys.stderr.isatty():
        for name in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
            os.environ.setdefault(name, "1")
        if "datasets" in sys.modules:  # imported before main() ran: its setting is already read
            sys.modules["datasets"].disable_progress_bars()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    """Entry point: one-line errors and non-zero exit codes."""
    _quiet_libraries()
    try:
        rc = app(standalone_mode=False)
    except MedSafetyError as exc:
        err.print(f"[bold red]error:[/] {escape(redact(str(exc)))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except ModuleNotFoundError as exc:
        hint = _missing_extra(exc.name or "")
        if hint is None:
            raise
        err.print(f"[bold red]error:[/] this command needs {exc.name}: {escape(hint)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except (click.exceptions.Abort, typer.Abort):  # typer >= 0.29 raises its own Abort (e.g. from confirm)
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(rc if isinstance(rc, int) else 0)
