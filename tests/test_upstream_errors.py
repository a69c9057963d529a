"""One test per class of bad upstream input: a one-line error naming file and line, no output."""

from __future__ import annotations

from pathlib import Path

import pytest
from upstream_fixture import FIXTURE_BENIGN, manifest_for

from medsafetybench.core.errors import UpstreamError
from medsafetybench.dataset.build import build
from medsafetybench.dataset.upstream_manifest import UpstreamFile, UpstreamManifest

CSV = "datasets/test/gpt4/med_safety_demonstrations_category_3.csv"


def _edit(root: Path, rel: str, old: bytes, new: bytes) -> None:
    path = root / rel
    data = path.read_bytes()
    assert old in data, f"fixture text {old!r} not in {rel}"
    path.write_bytes(data.replace(old, new, 1))


def _fails(root: Path, tmp_path: Path, match: str) -> str:
    out = tmp_path / "out"
    with pytest.raises(UpstreamError, match=match) as info:
        build(root, out, manifest=manifest_for(root), benign=FIXTURE_BENIGN)
    message = str(info.value)
    assert "\n" not in message
    assert not out.exists(), "a failed build must leave nothing at --out"
    assert not any(p.name.startswith(".out.partial") for p in tmp_path.iterdir())
    return message


def test_missing_column(fixture_tree, tmp_path):
    root, _ = fixture_tree
    _edit(root, CSV, b",harmful_medical_request,safe_response\n", b",harmful_medical_request\n")
    msg = _fails(root, tmp_path, r"header .*\(missing \['safe_response'\]\)")
    assert msg.startswith(f"{CSV}:1:")


def test_renamed_column(fixture_tree, tmp_path):
    root, _ = fixture_tree
    _edit(root, CSV, b",harmful_medical_request,safe_response", b",harmful_request,safe_response")
    _fails(root, tmp_path, r"category_3\.csv:1: header .*missing \['harmful_medical_request'\].*unexpected")


def test_extra_column(fixture_tree, tmp_path):
    root, _ = fixture_tree
    _edit(root, CSV, b"safe_response\n", b"safe_response,notes\n")
    _fails(root, tmp_path, r"category_3\.csv:1: header .*unexpected \['notes'\]")


def test_extra_cell_in_row(fixture_tree, tmp_path):
    root, _ = fixture_tree
    _edit(root, CSV, b"'quoted'.\"\n1,", b"'quoted'.\",extra\n1,")
    _fails(root, tmp_path, r"category_3\.csv:2: 4 cells, expected 3")


def test_empty_cell(fixture_tree, tmp_path):
    root, _ = fixture_tree
    _edit(root, CSV, b"1,Fixture test gpt4 request 1 about rule 3?,", b"1,,")
    _fails(root, tmp_path, r"category_3\.csv:3: empty cell in column harmful_medical_request")


def test_invalid_utf8(fixture_tree, tmp_path):
    root, _ = fixture_tree
    _edit(root, CSV, b"request 1 about", b"request \xff about")
    _fails(root, tmp_path, r"category_3\.csv:3: invalid UTF-8 \(byte 0xff")


def test_principle_outside_range_in_file_name(fixture_tree, tmp_path):
    root, _ = fixture_tree
    src = root / CSV
    src.rename(src.with_name("med_safety_demonstrations_category_10.csv"))
    _fails(root, tmp_path, r"category_10\.csv: principle 10 in the file name is outside 1-9")


def test_duplicate_id(fixture_tree, tmp_path):
    root, _ = fixture_tree
    src = root / CSV
    (src.with_name("med_safety_demonstrations_category_03.csv")).write_bytes(src.read_bytes())
    _fails(root, tmp_path, r"duplicate id med-test-gpt4-p3-000")


def test_sha256_mismatch(fixture_tree, tmp_path):
    root, manifest = fixture_tree
    _edit(root, CSV, b"request 1", b"request 2")
    with pytest.raises(UpstreamError, match=rf"^{CSV}: sha256 mismatch: got [0-9a-f]{{64}}, pinned "):
        build(root, tmp_path / "out", manifest=manifest, benign=FIXTURE_BENIGN)
    assert not (tmp_path / "out").exists()


def test_missing_file(fixture_tree, tmp_path):
    root, manifest = fixture_tree
    (root / CSV).unlink()
    with pytest.raises(UpstreamError, match=rf"^{CSV}: missing file"):
        build(root, tmp_path / "out", manifest=manifest, benign=FIXTURE_BENIGN)


def test_unterminated_quote(fixture_tree, tmp_path):
    root, _ = fixture_tree
    path = root / CSV
    path.write_bytes(path.read_bytes() + b'2,"never closed,reply\n')
    _fails(root, tmp_path, r"category_3\.csv:\d+: malformed CSV \(unexpected end of data\)")


def test_bom_is_rejected(fixture_tree, tmp_path):
    root, _ = fixture_tree
    path = root / CSV
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    _fails(root, tmp_path, r"category_3\.csv:1: starts with a UTF-8 byte-order mark")


def test_crlf_is_rejected(fixture_tree, tmp_path):
    root, _ = fixture_tree
    path = root / CSV
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    _fails(root, tmp_path, r"category_3\.csv:1: carriage return \(CRLF line ending\)")


def test_control_character_in_text(fixture_tree, tmp_path):
    root, _ = fixture_tree
    _edit(root, CSV, b"request 1 about", b"request \x07 about")
    _fails(root, tmp_path, r"category_3\.csv:3: request: Value error, text contains control character U\+0007")


def test_ft_file_not_a_prefix(fixture_tree, tmp_path):
    root, _ = fixture_tree
    rel = "datasets/train-splits-used-for-ft/gen_safety/ft_safety_gen_n2.json"
    _edit(root, rel, b"General refusal 0.", b"General refusal X.")
    _fails(root, tmp_path, r"ft_safety_gen_n2\.json: not the first 2 records of .*ft_safety_gen_n4\.json")


def test_manifest_model_rejects_bad_hash():
    with pytest.raises(ValueError):
        UpstreamManifest(
            repository="a/b",
            commit="0" * 40,
            license="MIT",
            files=[UpstreamFile(path="x", sha256="nothex", bytes=1)],
        )
