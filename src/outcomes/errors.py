"""Errors that reach the user as one line on stderr, never as a traceback."""

from __future__ import annotations


class OutcomesError(Exception):
    """Base of errors caused by input or configuration, with the exit status they map to."""

    exit_code: int = 2


class ExtractUnreadableError(OutcomesError):
    """The extract cannot be read at all (DESIGN §5, exit 2): names the file and the problem."""

    exit_code = 2

    def __init__(self, file: str, problem: str) -> None:
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")


class ConfigError(OutcomesError):
    """The analysis plan (config) is invalid: names the key."""

    exit_code = 2
