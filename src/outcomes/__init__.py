"""outcomes: validation, scoring, survival and mediation analysis of peer-support trials."""

#: The package's version, written only here: pyproject.toml reads it (setuptools dynamic
#: metadata), the CLI's --version, provenance and the reports print it.
__version__ = "0.1.0"
