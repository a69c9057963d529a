"""Files of the repo's top-level folders (validation/, dataset_card/, loading_script/).

An installed wheel ships them as data packages (``medsafetybench._validation`` ...); a source checkout
used without installing (``PYTHONPATH=.``) reads them from the repository root.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["resource_text"]

_FOLDERS = {"_validation": "validation", "_dataset_card": "dataset_card", "_loading_script": "loading_script"}


def resource_text(package: str, name: str) -> str:
    """Text of ``name`` in the data package ``medsafetybench.<package>`` (or its repository folder)."""
    try:
        return resources.files(f"medsafetybench.{package}").joinpath(name).read_text("utf-8")
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parent.parent.parent / _FOLDERS[package] / name).read_text("utf-8")
