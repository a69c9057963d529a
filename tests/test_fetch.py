"""Download of the pinned archive, served from a loopback HTTP server (no internet)."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
from upstream_fixture import make_upstream

from medsafetybench.core.errors import MedSafetyError, UpstreamError
from medsafetybench.dataset.fetch import URL_ENV, fetch_upstream


def _archive(root: Path, corrupt: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                data = path.read_bytes() + (b"x" if corrupt and path.suffix == ".csv" else b"")
                info = tarfile.TarInfo(f"med-safety-bench-{'0' * 40}/{path.relative_to(root).as_posix()}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        extra = tarfile.TarInfo(f"med-safety-bench-{'0' * 40}/README.md")
        extra.size = 2
        tar.addfile(extra, io.BytesIO(b"hi"))
    return buf.getvalue()


@pytest.fixture()
def server():
    payload: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = payload.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            if body is not None:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield payload, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_fetch_downloads_verifies_and_caches(server, tmp_path: Path, monkeypatch):
    payload, base = server
    manifest = make_upstream(tmp_path / "src")
    payload["/a.tar.gz"] = _archive(tmp_path / "src")
    monkeypatch.setenv(URL_ENV, base + "/a.tar.gz")
    got = fetch_upstream(manifest, tmp_path / "cache")
    assert got == tmp_path / "cache" / f"upstream-{'0' * 40}"
    assert sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file()) == sorted(
        f.path for f in manifest.files
    )
    payload.clear()  # cached: no second download
    assert fetch_upstream(manifest, tmp_path / "cache") == got


def test_fetch_rejects_a_tampered_archive_and_keeps_no_partial_copy(server, tmp_path: Path, monkeypatch):
    payload, base = server
    manifest = make_upstream(tmp_path / "src")
    payload["/a.tar.gz"] = _archive(tmp_path / "src", corrupt=True)
    monkeypatch.setenv(URL_ENV, base + "/a.tar.gz")
    with pytest.raises(UpstreamError, match=r"\.csv: sha256 mismatch"):
        fetch_upstream(manifest, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_fetch_http_error_is_one_line(server, tmp_path: Path, monkeypatch):
    _, base = server
    manifest = make_upstream(tmp_path / "src")
    monkeypatch.setenv(URL_ENV, base + "/missing.tar.gz")
    with pytest.raises(
        MedSafetyError, match=r"^download of http://127\.0\.0\.1:\d+/missing\.tar\.gz failed: HTTP 404$"
    ):
        fetch_upstream(manifest, tmp_path / "cache")
