"""Empty extract templates for a data manager: the right shape before the first row.

``outcomes template DIR`` writes the four CSV files of the input contract with their
headers only (columns in contract order; the questionnaire item columns of every
instrument in the registry, or of the instruments asked for), their Frictionless
descriptor ``datapackage.json`` (:mod:`outcomes.datapackage`, so that ``frictionless
validate DIR/datapackage.json`` checks the filled template) and an explanations file with
its header (audit columns ``explained_by``, ``explained_on`` included) and one commented
example line. Everything comes from the declarations the
validator checks against (:mod:`outcomes.contract`, :mod:`outcomes.instruments`), so a
template and the validator cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from outcomes import contract
from outcomes.atomic import write_text
from outcomes.errors import OutcomesError
from outcomes.validation.explanations import EXPLANATION_COLUMNS

EXPLANATIONS_FILE = "explanations.tsv"

#: The commented example of the explanations template (a line starting with ``#`` is a
#: comment in an explanations file).
EXPLANATIONS_EXAMPLE = (
    "# example: PAR-017\tP0042\t62 prior admissions confirmed against the hospital's "
    "patient administration system\tA. Data Manager\t2026-11-30"
)


def template_columns(instruments: Sequence[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Header of each contract table; questionnaire items of ``instruments`` (registry keys,
    in the order given; default every instrument of the registry, in registry order)."""
    from outcomes.instruments import load_registry

    registry = load_registry()
    keys = list(registry) if instruments is None else list(instruments)
    unknown = [k for k in keys if k not in registry]
    if unknown:
        raise OutcomesError(
            f"instruments: unknown {', '.join(unknown)} (known: {', '.join(registry)})"
        )
    # an instrument scored from another's items (SWEMWBS from WEMWBS) needs all of that
    # instrument's columns (an instrument with only some of them is an error, QST-008)
    owners = dict.fromkeys(registry[k].source_instrument or k for k in keys)
    if instruments is None:
        owners = dict.fromkeys(k for k in registry if k in owners)  # registry order
    items = [c for k in owners for c in registry[k].item_columns()]
    return {
        "participants": contract.PARTICIPANT_COLUMNS,
        "questionnaires": (*contract.QUESTIONNAIRE_KEY_COLUMNS, *items),
        "admissions": contract.ADMISSION_COLUMNS,
        "peer_contacts": contract.PEER_CONTACT_COLUMNS,
    }


def write_template(out_dir: str | Path, instruments: Sequence[str] | None = None) -> list[Path]:
    """Write the header-only extract, its descriptor and the explanations template.

    Refuses (:class:`OutcomesError`, naming the file) to overwrite an existing file, so a
    template never replaces an extract. Returns the paths written.
    """
    from outcomes.datapackage import DESCRIPTOR_FILE, datapackage_json

    out = Path(out_dir)
    columns = template_columns(instruments)
    targets = {out / contract.TABLE_FILES[t]: ",".join(cols) + "\n" for t, cols in columns.items()}
    targets[out / DESCRIPTOR_FILE] = datapackage_json(instruments=instruments)
    targets[out / EXPLANATIONS_FILE] = "\t".join(EXPLANATION_COLUMNS) + "\n" + EXPLANATIONS_EXAMPLE + "\n"
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise OutcomesError(f"{', '.join(existing)}: already exists (a template never overwrites a file)")
    out.mkdir(parents=True, exist_ok=True)
    return [write_text(path, text) for path, text in targets.items()]
