"""Errors raised for user mistakes: each carries a one-line message meant to be shown as is."""


class UserError(Exception):
    """A mistake in the user's input; the message names the setting or file/line and the fix."""


class ConfigError(UserError):
    """A setting has a value outside what the model allows."""


class DataError(UserError):
    """A data file (departments, practices, rosters, ties) is malformed."""


class FinishedError(UserError):
    """A finished run (its horizon reached) was asked to step again."""


class StorageError(UserError):
    """A file or folder could not be written (full disk, read-only folder, a file in the way)."""


class NonFiniteError(UserError):
    """A run produced a NaN or infinite value: its result must not be reported as a success."""


def first_line(err: BaseException) -> str:
    """The first line of an error's message (its type when it has none): what a one-line
    message quotes of an exception raised by a library."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def one_line(err: BaseException) -> str:
    """`err` as `Type: message` on one line (a YAML error spans several), at most 200 characters
    of its message."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}"
