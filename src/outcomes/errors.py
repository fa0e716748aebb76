"""Errors that reach the user as one line on stderr, never as a traceback."""

from __future__ import annotations


class OutcomesError(Exception):
    """Base of errors caused by input or configuration, with the exit status they map to."""

    exit_code: int = 2


class ExtractUnreadableError(OutcomesError):
    """The extract cannot be read at all (docs/validation.md, exit 2): names the file and the problem."""

    exit_code = 2

    def __init__(self, file: str, problem: str) -> None:
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")

    @property
    def problems(self) -> tuple[ExtractUnreadableError, ...]:
        """Every file that cannot be read, with its problem (this one, unless several)."""
        return (self,)


class ConfigError(OutcomesError):
    """The analysis plan (config) is invalid: names the key."""

    exit_code = 2


class NotEstimable(OutcomesError):
    """An estimand cannot be estimated on the data at hand (too few events, a singular
    design, non-convergence, separation, an empty arm...).

    ``reason`` is a plain sentence for the ``reason`` column of a results table. Stages
    catch it and write a row with ``status = not estimable`` instead of failing; a
    library user calling an estimator directly gets it as a one-line error.
    """

    exit_code = 1

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SingularDesign(NotEstimable):
    """A regression's design matrix is rank-deficient: names the aliased columns."""

    def __init__(self, reason: str, aliased: tuple[str, ...] = ()) -> None:
        self.aliased = aliased
        super().__init__(reason)
