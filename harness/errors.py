"""Exceptions the harness raises for bad input; `run_all.py` prints them as one line."""


class HarnessError(Exception):
    """A user-facing error: wrong path, name, flag, checkpoint or file content."""


class ImageLoadError(HarnessError):
    """An image file that cannot be read or decoded."""
