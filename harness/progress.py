"""Progress of a long loop: a tqdm bar on a terminal, plain lines with rate and ETA in a log file.

Runs are usually started with their output sent to a file (`nohup ... > run.log`), where tqdm's bar is
either off or a stream of carriage returns. `progress()` gives the bar when stderr is a terminal and
otherwise prints one line every `every` items (default: 5% of the total) or every `seconds`, whichever
comes first:

    widerface centerface: 122/488 images (25%), 0.41 images/s, elapsed 4m58s, ETA 14m52s
"""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class LineProgress:
    """Counts items and prints a progress line to `stream` every `every` items or `seconds` seconds."""

    def __init__(self, total: int, desc: str, unit: str = "items", every: int | None = None,
                 seconds: float = 300.0, stream=None):
        self.total, self.desc, self.unit = total, desc, unit
        self.every = every or max(1, total // 20)
        self.seconds = seconds
        self.stream = stream or sys.stderr
        self.count = 0
        self.start = self.last_time = time.monotonic()
        self.last_count = 0

    def update(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if (self.count - self.last_count >= self.every or now - self.last_time >= self.seconds
                or self.count == self.total):
            self.last_count, self.last_time = self.count, now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = (now or time.monotonic()) - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        pct = f" ({100 * self.count / self.total:.0f}%)" if self.total else ""
        eta = f", ETA {_duration((self.total - self.count) / rate)}" if rate > 0 and self.total else ""
        return (f"{self.desc}: {self.count}/{self.total} {self.unit}{pct}, {rate:.2f} {self.unit}/s, "
                f"elapsed {_duration(elapsed)}{eta}")

    def close(self) -> None:
        pass

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(total: int, desc: str, unit: str = "items"):
    """Return a progress object with `update(n)` and `close()`: tqdm on a terminal, else LineProgress."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit)
    return LineProgress(total, desc, unit)


def progress(items: Iterable[T], desc: str, unit: str = "items", total: int | None = None) -> Iterator[T]:
    """Yield `items`, reporting progress (see progress_bar)."""
    items = list(items) if total is None else items
    bar = progress_bar(len(items) if total is None else total, desc, unit)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()
