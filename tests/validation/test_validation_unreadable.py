"""Exit status 2: the extract cannot be read. A clear stderr line naming the file, then one
saying where the listing is; no traceback."""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from extract_factory import write_extract

from outcomes.cli import main


def _rewrite(name, fn):
    def f(d: Path):
        p = d / name
        p.write_bytes(fn(p.read_bytes()))

    return f


def _fifo(name):
    def f(d: Path):
        (d / name).unlink()
        os.mkfifo(d / name)  # nobody writes to it: reading it would block forever

    return f


def _remove(name):
    return lambda d: (d / name).unlink()


def _drop_header_column(name, column):
    def fn(data: bytes) -> bytes:
        df = pd.read_csv(__import__("io").BytesIO(data), dtype=str, keep_default_na=False)
        return df.drop(columns=[column]).to_csv(index=False).encode()

    return _rewrite(name, fn)


CASES = {
    "missing file": (_remove("peer_contacts.csv"), "peer_contacts.csv", "file not found"),
    "empty file": (_rewrite("admissions.csv", lambda b: b""), "admissions.csv", "empty file (0 bytes)"),
    "no header": (_rewrite("admissions.csv", lambda b: b"\n\n"), "admissions.csv", "no header"),
    "binary": (_rewrite("participants.csv", lambda b: b[:40] + b"\x00\x01\x02" + b[40:]), "participants.csv", "binary"),
    "utf-16": (_rewrite("participants.csv", lambda b: b.decode().encode("utf-16")), "participants.csv",
               "UTF-16 text (it starts with a UTF-16 byte-order mark), expected UTF-8: re-save it as UTF-8 CSV"),
    "utf-16 without a byte-order mark": (
        _rewrite("participants.csv", lambda b: b.decode().encode("utf-16-le")), "participants.csv",
        "UTF-16 text (every other byte is NUL), expected UTF-8: re-save it as UTF-8 CSV"),
    "byte-order mark read as Windows-1252": (
        _rewrite("admissions.csv", lambda b: codecs.BOM_UTF8.decode("cp1252").encode() + b), "admissions.csv",
        "missing required column: participant_id (header has 'ï»¿participant_id': a byte-order mark read as "
        "Windows-1252 and saved again; re-save it as UTF-8 CSV"),
    "named pipe": (_fifo("questionnaires.csv"), "questionnaires.csv", "not a regular file (a named pipe (FIFO))"),
    "semicolon": (_rewrite("participants.csv", lambda b: b.replace(b",", b";")), "participants.csv", "';'"),
    "tab": (_rewrite("participants.csv", lambda b: b.replace(b",", b"\t")), "participants.csv", "'\\t'"),
    "not utf-8": (
        _rewrite("participants.csv", lambda b: b.replace(b"P006,S2", "P006,Sé".encode("latin-1"))),
        "participants.csv",
        "not UTF-8 text (invalid byte 0xe9 at line 7)",
    ),
    "missing column": (_drop_header_column("admissions.csv", "legal_status"), "admissions.csv", "missing required column: legal_status"),
    "missing item-independent key": (_drop_header_column("questionnaires.csv", "visit"), "questionnaires.csv", "visit"),
    "duplicated column": (
        _rewrite("participants.csv", lambda b: b.replace(b"site,", b"age,", 1)),
        "participants.csv",
        "duplicated column name 'age'",
    ),
    "unbalanced quote": (
        _rewrite("admissions.csv", lambda b: b.replace(b"A004", b'"A004', 1)),
        "admissions.csv",
        "line 5",
    ),
    "missing data directory": (lambda d: shutil.rmtree(d), "", "data directory not found"),
}


def _main_or_hang(args, seconds=60):
    """``main(args)``, failing (instead of hanging the suite) if it blocks."""
    box = []
    t = threading.Thread(target=lambda: box.append(main(args)), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"outcomes {' '.join(args)} blocked for {seconds} s"
    return box[0]


@pytest.mark.parametrize("name", list(CASES))
def test_exit_2(name, tables, tmp_path, capsys):
    post, file, problem = CASES[name]
    d = write_extract(tables, tmp_path / "synthetic")
    out = tmp_path / "out"
    post(d)
    status = _main_or_hang(["validate", str(d), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2, captured.err  # the problem, then what it means and where the listing is
    line = lines[0]
    assert lines[1] == f"outcomes validate: the extract cannot be read (exit status 2); listing: {out / 'validation.html'}"
    assert captured.out == ""
    assert line.startswith("outcomes validate: ")
    assert str(d / file) in line if file else str(d) in line
    assert problem in line
    assert "Traceback" not in captured.err + captured.out
    detail = pd.read_csv(out / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert detail["rule_id"].tolist() == ["FIL-001"]
    assert problem in detail["message"].iloc[0]
    summary = pd.read_csv(out / "issues_summary.tsv", sep="\t", dtype=str)
    assert summary["rule_id"].tolist() == ["FIL-001"]
    assert (out / "validation.html").is_file()


def test_exit_2_removes_stale_outputs(tables, tmp_path, capsys):
    d = write_extract(tables, tmp_path / "x")
    out = tmp_path / "out"
    assert main(["validate", str(d), "--out", str(out)]) == 0
    assert (out / "clean" / "participants.parquet").exists()
    (d / "participants.csv").write_bytes(b"")
    assert main(["validate", str(d), "--out", str(out)]) == 2
    assert not (out / "clean" / "participants.parquet").exists()
    assert not (out / "row_accounting.tsv").exists()


def test_non_utf8_line_in_the_middle(tables, tmp_path, capsys):
    tables["admissions"].loc[2, "legal_status"] = "informal"
    d = write_extract(tables, tmp_path / "x")
    p = d / "admissions.csv"
    p.write_bytes(p.read_bytes().replace(b"A003", b"A\xff03"))
    assert main(["validate", str(d), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{p}: not UTF-8 text (invalid byte 0xff at line 4)" in err


_AUDIT = "rule_id\trecord_key\treason\texplained_by\texplained_on\n"
EXPLANATION_CASES = {
    "missing": (None, "explanations file not found"),
    "bad header": ("rule\tkey\twhy\n", "header lacks column(s) rule_id, record_key, reason"),
    "comma separated": ("rule_id,record_key,reason\n", "is it tab-separated?"),
    "unknown rule": ("rule_id\trecord_key\treason\nPAR-999\tP001\tx\n", "line 2: unknown rule id 'PAR-999'"),
    "empty reason": ("rule_id\trecord_key\treason\nPAR-007\tP001\t\n", "line 2: empty reason"),
    "wrong field count": ("rule_id\trecord_key\treason\nPAR-007\tP001\n", "line 2: 2 fields"),
    "duplicate": ("rule_id\trecord_key\treason\nPAR-007\tP001\ta\nPAR-007\tP001\tb\n", "line 3"),
    "not utf-8": (b"rule_id\trecord_key\treason\nPAR-007\tP001\tcaf\xe9\n", "invalid byte 0xe9 at line 2"),
    "utf-16 (Excel's Unicode Text)": (
        "rule_id\trecord_key\treason\nPAR-007\tP001\tok\n".encode("utf-16"),
        "UTF-16 text (it starts with a UTF-16 byte-order mark), expected UTF-8: re-save it as UTF-8 "
        "tab-separated text",
    ),
    "utf-16 without a byte-order mark": (
        "rule_id\trecord_key\treason\nPAR-007\tP001\tok\n".encode("utf-16-be"),
        "UTF-16 text (every other byte is NUL), expected UTF-8",
    ),
    "named pipe": ("fifo", "not a regular file (a named pipe (FIFO))"),
    "one audit column": ("rule_id\trecord_key\treason\texplained_by\nPAR-007\tP001\tok\tJo\n",
                         "header has explained_by but lacks explained_on"),
    "empty explained_by": (_AUDIT + "PAR-007\tP001\tok\t\t2026-11-02\n", "line 2: empty explained_by"),
    "day first explained_on": (_AUDIT + "PAR-007\tP001\tok\tJo\t02/11/2026\n",
                               "line 2: explained_on '02/11/2026' is not a valid YYYY-MM-DD date"),
    "impossible explained_on": (_AUDIT + "PAR-008\tP002\tok\tJo\t2026-11-02\nPAR-007\tP001\tok\tJo\t2026-02-30\n",
                                "line 3: explained_on '2026-02-30' is not a valid YYYY-MM-DD date"),
}


@pytest.mark.parametrize("name", list(EXPLANATION_CASES))
def test_malformed_explanations_exit_2(name, tables, tmp_path, capsys):
    content, problem = EXPLANATION_CASES[name]
    d = write_extract(tables, tmp_path / "x")
    e = tmp_path / "explanations.tsv"
    if content == "fifo":
        os.mkfifo(e)
    elif isinstance(content, bytes):
        e.write_bytes(content)
    elif content is not None:
        e.write_text(content)
    status = _main_or_hang(["validate", str(d), "--out", str(tmp_path / "o"), "--explanations", str(e)])
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2 and str(e) in lines[0] and problem in lines[0]
    assert lines[1].startswith("outcomes validate: the explanations file cannot be read (exit status 2); listing: ")
    assert "Traceback" not in err


def test_console_script_subprocess(tables, tmp_path):
    """The installed ``outcomes`` command: one stderr line, exit 2, no traceback."""
    d = write_extract(tables, tmp_path / "synthetic")
    p = d / "participants.csv"
    p.write_bytes(p.read_bytes().replace(b"P006,S2", "P006,Sé".encode("latin-1")))
    exe = Path(sys.executable).with_name("outcomes")
    env = {k: v for k, v in os.environ.items() if k != "OUTCOMES_DEBUG"}
    proc = subprocess.run(
        [str(exe), "validate", "synthetic", "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "outcomes validate: synthetic/participants.csv: not UTF-8 text (invalid byte 0xe9 at line 7)",
        "outcomes validate: the extract cannot be read (exit status 2); listing: out/validation.html",
    ]
    assert "Traceback" not in proc.stderr
    # a valid extract through the same command: exit 0
    p.write_bytes(p.read_bytes().replace("Sé".encode("latin-1"), b"S2"))
    ok = subprocess.run([str(exe), "validate", "synthetic", "--out", "out"], cwd=tmp_path,
                        capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out" / "clean" / "participants.parquet").is_file()


def test_bom_only_notice(tables, tmp_path, capsys):
    d = write_extract(tables, tmp_path / "x")
    p = d / "participants.csv"
    p.write_bytes(codecs.BOM_UTF8 + p.read_bytes())
    assert main(["validate", str(d), "--out", str(tmp_path / "o")]) == 0


def test_explanations_with_a_doubled_byte_order_mark_are_read(tables, tmp_path):
    from outcomes.validation import validate_extract

    tables["participants"].loc[0, "age"] = "15"
    d = write_extract(tables, tmp_path / "x")
    e = tmp_path / "explanations.tsv"
    e.write_bytes(codecs.BOM_UTF8 * 2 + b"rule_id\trecord_key\treason\nPAR-007\tP001\tchecked\n")
    r = validate_extract(d, explanations=e)
    assert r.exit_code == 0
    assert r.findings.loc[r.findings["rule_id"] == "PAR-007", "explained"].tolist() == ["yes"]
