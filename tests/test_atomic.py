"""outcomes.atomic: a file or directory is replaced whole or not at all."""

from __future__ import annotations

import errno

import pytest

from outcomes import atomic


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "sub" / "table.tsv"
    with atomic.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".table.tsv.part-")
        tmp.write_text("new\n")
        assert not target.exists()  # nothing visible under the final name before the rename
    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == ["table.tsv"]


def test_atomic_path_keeps_the_earlier_file_on_failure(tmp_path):
    target = tmp_path / "table.tsv"
    target.write_text("earlier\n")
    with pytest.raises(OSError, match="No space"), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "earlier\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.tsv"]


def test_atomic_path_removes_leftovers_of_a_killed_writer(tmp_path):
    (tmp_path / ".t.tsv.part-1-abcd").write_text("half")
    atomic.write_text(tmp_path / "t.tsv", "x\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tsv"]


def _tree(d):
    return {str(p.relative_to(d)): p.read_text() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_atomic_directory_replaces_the_whole_directory(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    out = tmp_path / "validation"
    (out / "clean").mkdir(parents=True)
    (out / "clean" / "old_only.parquet").write_text("earlier")
    (out / "a.tsv").write_text("earlier")
    with atomic.atomic_directory(out) as tmp:
        (tmp / "a.tsv").write_text("new")
        assert _tree(out) == {"a.tsv": "earlier", "clean/old_only.parquet": "earlier"}
    assert _tree(out) == {"a.tsv": "new"}  # no file of the earlier run survives the swap
    assert sorted(p.name for p in tmp_path.iterdir()) == ["validation"]


def test_atomic_directory_leaves_the_earlier_directory_on_failure(tmp_path):
    out = tmp_path / "validation"
    out.mkdir()
    (out / "a.tsv").write_text("earlier")
    with pytest.raises(RuntimeError), atomic.atomic_directory(out) as tmp:
        (tmp / "a.tsv").write_text("new")
        (tmp / "b.tsv").write_text("new")
        raise RuntimeError("internal error")
    assert _tree(out) == {"a.tsv": "earlier"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["validation"]


def test_atomic_directory_creates_a_new_directory(tmp_path):
    out = tmp_path / "deep" / "validation"
    with atomic.atomic_directory(out) as tmp:
        (tmp / "a.tsv").write_text("new")
    assert _tree(out) == {"a.tsv": "new"}
