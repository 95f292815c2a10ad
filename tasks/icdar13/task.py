"""Placeholder: the icdar13 task is being written (its issue is open). It registers no arguments yet."""
from harness.errors import HarnessError

DEFAULT_PREPROC = ["none"]


def add_arguments(parser) -> None:
    pass


def run(ctx):
    raise HarnessError("the icdar13 task is not implemented yet")
