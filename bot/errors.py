"""The one family of user-facing failures, each with the exit code the CLI returns."""

from __future__ import annotations


class TaskbotError(Exception):
    """A failure to show the user as one line; `exit_code` is what the CLI returns."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(TaskbotError):
    """Bad command-line use."""

    exit_code = 2


class ConfigError(TaskbotError):
    """The configuration is missing, unreadable or invalid (names file and key)."""

    exit_code = 2


class TaskFileError(TaskbotError):
    """The task file cannot be read as a task; it is never written."""

    exit_code = 3


class ParamError(TaskbotError):
    """A criterion's parameters are invalid; the criterion is refused at plan time."""

    exit_code = 1
