"""One error hierarchy; the CLI maps each class to a message and an exit code (DESIGN 4)."""

from __future__ import annotations


class ChsError(Exception):
    """Base of every error chs reports to a user."""

    exit_code = 70


class ConfigError(ChsError):
    """The config is invalid; `problems` holds every problem found, already located."""

    exit_code = 78

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class InputMissingError(ChsError):
    """An input file (config, export, account) does not exist."""

    exit_code = 66


class DataError(ChsError):
    """An export cannot be used: missing column, wrong type, unreadable rows."""

    exit_code = 65


class OutputError(ChsError):
    """An output file or the database cannot be written."""

    exit_code = 73


class LockedError(ChsError):
    """Another run holds the lock on the database."""

    exit_code = 75


class UsageError(ChsError):
    """The command line asks for something impossible (bad date, unknown snapshot)."""

    exit_code = 2
