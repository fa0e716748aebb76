"""Provenance record: checksums checked against hashlib, versions, plan hash."""

import datetime as dt
import hashlib
import json

from outcomes.provenance import build_provenance, write_provenance


def test_provenance_holds_checksums_plan_hash_versions_and_seed(tmp_path):
    f = tmp_path / "participants.csv"
    f.write_bytes(b"participant_id\nP1\n")
    plan = {"seed": 7, "arms": {"treated": "peer_support", "control": "usual_care"}}
    rec = build_provenance(
        [f], plan, {"mediation": 7}, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), repo_dir=tmp_path
    )
    assert rec["inputs"][str(f)]["sha256"] == hashlib.sha256(b"participant_id\nP1\n").hexdigest()
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":")).encode()
    assert rec["plan_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert rec["seeds"] == {"mediation": 7}
    assert rec["packages"]["numpy"] and rec["packages"]["pandas"]
    assert rec["git"] is None  # tmp_path is not a checkout
    assert rec["timestamp_utc"] == "2026-01-01T00:00:00+00:00"
    write_provenance(rec, tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text()) == rec
