"""Exceptions the harness raises for bad input; `run_all.py` prints them as one line."""


class HarnessError(Exception):
    """A user-facing error: wrong path, name, flag, checkpoint or file content."""


class ImageLoadError(HarnessError):
    """An image file that cannot be read or decoded."""


def one_line(exc: BaseException) -> str:
    """Return `Type: message` of an exception on one line (for errors raised by a user's code)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
