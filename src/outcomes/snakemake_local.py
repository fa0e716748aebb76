"""Snakemake for a local run, without the SLURM executor plugin's probe at its start.

Snakemake imports every installed executor plugin while it builds its command line, before
it reads a profile (``snakemake_interface_common.plugin_registry``: ``pkgutil.iter_modules``
over ``sys.path``), and ``snakemake-executor-plugin-slurm`` 2.8 runs ``which sacct``,
``which squeue`` and, when ``sinfo`` is on PATH, ``scontrol show config`` at import, for
the help text of its ``--slurm-status-command`` (a field default of its settings class).
Where the SLURM client is installed and no controller answers, that waits about 9 s at
every start (decisions WF9, WK2). A local run never uses the plugin, so
``python -m outcomes.snakemake_local ARGS`` (what ``scripts/pipeline.sh`` runs) leaves it
out of the discovery when nothing can ask for it: no ``--executor``/``-e``, no
``--profile`` or ``$SNAKEMAKE_PROFILE``, and no ``executor:`` in the ``--workflow-profile``.
Otherwise, and for everything else, it is Snakemake's own ``main`` with the same arguments.
"""

from __future__ import annotations

import os
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

#: The executor plugin a local run does not need (its module name).
SLURM_PLUGIN = "snakemake_executor_plugin_slurm"


def may_use_another_executor(argv: Sequence[str]) -> bool:
    """Whether the command line, a profile or the workflow profile may name an executor."""
    if os.environ.get("SNAKEMAKE_PROFILE"):
        return True
    args = list(argv)
    for k, arg in enumerate(args):
        name = arg.split("=", 1)[0]
        if name in ("--executor", "-e", "--profile"):
            return True
        if name == "--workflow-profile":
            value = arg.split("=", 1)[1] if "=" in arg else (args[k + 1] if k + 1 < len(args) else "")
            if _names_an_executor(Path(value) / "config.yaml"):
                return True
    return False


def _names_an_executor(config: Path) -> bool:
    """A profile's config.yaml with an ``executor`` key (or one that cannot be read)."""
    import yaml

    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except OSError:
        return False  # no such profile: Snakemake itself says so
    except yaml.YAMLError:
        return True
    return isinstance(data, dict) and "executor" in data


def _hide(name: str) -> None:
    """Leave module ``name`` out of ``pkgutil.iter_modules`` in this process."""
    every = pkgutil.iter_modules

    def iter_modules(*args: object, **kwargs: object) -> Iterator[pkgutil.ModuleInfo]:
        return (m for m in every(*args, **kwargs) if m.name != name)  # type: ignore[arg-type]

    pkgutil.iter_modules = iter_modules


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not may_use_another_executor(argv):
        _hide(SLURM_PLUGIN)
    from snakemake.cli import main as snakemake_main

    snakemake_main(argv)


if __name__ == "__main__":
    main()
