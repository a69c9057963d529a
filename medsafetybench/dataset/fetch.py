"""Download the pinned upstream release archive and keep only its hash-verified data files."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..core.errors import MedSafetyError, UpstreamError
from .upstream_manifest import UpstreamManifest, pinned_manifest

__all__ = ["URL_ENV", "cache_root", "fetch_upstream"]

URL_ENV = "MEDSAFETYBENCH_UPSTREAM_URL"


def cache_root() -> Path:
    """``$MEDSAFETYBENCH_CACHE`` or ``~/.cache/medsafetybench``."""
    return Path(os.environ.get("MEDSAFETYBENCH_CACHE", Path.home() / ".cache" / "medsafetybench"))


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, dest.open("wb") as fh:
            shutil.copyfileobj(resp, fh, 1 << 20)
    except urllib.error.HTTPError as exc:
        raise MedSafetyError(f"download of {url} failed: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise MedSafetyError(f"download of {url} failed: {exc}") from None


def _extract(archive: Path, manifest: UpstreamManifest, dest: Path) -> None:
    wanted = {f.path for f in manifest.files}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/", 1)
                if len(parts) == 2 and parts[1] in wanted and member.isfile():
                    target = dest / parts[1]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    with src, target.open("wb") as fh:
                        shutil.copyfileobj(src, fh)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UpstreamError(str(archive), f"unreadable archive ({exc})") from None


def fetch_upstream(manifest: UpstreamManifest | None = None, cache_dir: Path | None = None) -> Path:
    """A verified local copy of the pinned upstream data (downloaded once, then cached)."""
    manifest = manifest or pinned_manifest()
    root = cache_dir or cache_root()
    dest = root / f"upstream-{manifest.commit}"
    if dest.is_dir():
        manifest.verify(dest)
        return dest
    root.mkdir(parents=True, exist_ok=True)
    url = os.environ.get(URL_ENV) or manifest.archive_url
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
        archive = Path(tmp) / "upstream.tar.gz"
        _download(url, archive)
        tree = Path(tmp) / "tree"
        tree.mkdir()
        _extract(archive, manifest, tree)
        manifest.verify(tree)
        tree.rename(dest)
    return dest
