"""Placeholder: the widerface task is being written (its issue is open). It registers no arguments yet."""
from harness.errors import HarnessError

DEFAULT_PREPROC = ["none"]


def add_arguments(parser) -> None:
    pass


def run(ctx):
    raise HarnessError("the widerface task is not implemented yet")
