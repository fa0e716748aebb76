"""synthetic_data/ is byte for byte what the generator writes for its documented seed."""

import hashlib
from pathlib import Path

import pytest

from outcomes.simulate import write_simulated_trial

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "synthetic_data"
SEED = 20261122  # documented in README.md and docs/synthetic-trial.md
FILES = (
    "participants.csv", "questionnaires.csv", "admissions.csv", "peer_contacts.csv", "datapackage.json", "truth.json",
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_bundled_trial_regenerates_byte_for_byte(tmp_path):
    write_simulated_trial(n=600, seed=SEED, out_dir=tmp_path)
    for name in FILES:
        assert _sha(tmp_path / name) == _sha(BUNDLED / name), f"{name} differs from the generator's output"
    assert sorted(p.name for p in BUNDLED.iterdir()) == sorted(FILES)
