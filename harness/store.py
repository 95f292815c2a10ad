"""Results on disk: atomic writes, and per-item JSON-lines records that make a run resumable.

A record store is a folder holding `config.json` (the configuration and provenance of the run that
made it) and one or more `records*.jsonl` files (one per writer, e.g. per rank of a sharded run). Each
record is one line of JSON with sorted keys, handed to the operating system as it is written, so a
process that is killed or crashes loses at most the line being written. A torn line (an interrupted
write, e.g. on a full disk) is skipped when reading; opening a store reports it on stderr (its item is
then recomputed), and the next append starts on a new line, so it never glues a record onto the torn
one. The file is fsynced at most every `SYNC_INTERVAL_S` seconds and when the store is closed,
so a power cut loses at most the last second's records (an fsync per record cost 3 ms here, more than
the rest of a full WIDER FACE run's bookkeeping together: benchmarks/store.py). Lines are encoded and
parsed with orjson (10-20x faster than the json module on records of 30 boxes; the same values),
falling back to the json module for what orjson does not write or read (NaN, Infinity).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import orjson

SYNC_INTERVAL_S = 1.0


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())   # mkstemp makes 0600; results are for everyone to read
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON to `path` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def config_key(config: dict) -> str:
    """Return a short stable hash of a JSON-able configuration (the identity of a record store)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:12]


def slug(text: str, limit: int = 40) -> str:
    """Return `text` as a file-name part: letters, digits, `+`, `-`, `.` kept, all else `_`, cut at `limit`."""
    return "".join(c if c.isalnum() or c in "+-." else "_" for c in text)[:limit]


def file_sha256(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class RecordStore:
    """Per-item records of one configuration, appended as JSON lines; `done()` gives finished ids.

    The ids on disk are read once, when the store is opened, and kept up to date by `append`, so
    `done()` and `has()` cost O(1) per item however large the store grows. Records that other writers
    (other ranks) append after this store was opened are seen by `records()`, which reads the files.
    """

    def __init__(self, folder: str | os.PathLike, config: dict, provenance: dict | None = None,
                 writer: str = "", meta: dict | None = None, fresh: bool = False):
        """Open (or create) the store in `folder`. `config` is what made its records (the caller keys
        the folder by it); `meta` is what readers need that is not part of that identity (e.g. the
        name of the table its records go to), stored beside it in config.json. An item counts as done
        when its last record has no "error" (failed items are retried); with `fresh` no item counts as
        done (`--force`: everything is recomputed, and the new records win)."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = config
        config_path = self.folder / "config.json"
        if not config_path.exists():
            atomic_write_json(config_path, {"config": config, "provenance": provenance or {},
                                            **({"meta": meta} if meta else {})})
        blob = json.loads(config_path.read_text(encoding="utf-8"))
        self.provenance, self.meta = blob.get("provenance") or {}, blob.get("meta") or {}
        self.path = self.folder / (f"records.{writer}.jsonl" if writer else "records.jsonl")
        stored, torn = read_records_and_torn(self.folder)
        for path, count in torn.items():
            print(f"records {path}: {count} torn line(s) (an interrupted write) skipped; those items are "
                  "recomputed", file=sys.stderr)
        self._ids = set() if fresh else {i for i, r in stored.items() if "error" not in r}
        self._errors = {} if fresh else {i: str(r["error"]) for i, r in stored.items() if "error" in r}
        self._fh = None
        self._synced = time.monotonic()

    def records(self) -> list[dict]:
        """Return every complete record of this store (all writers), the last one per id winning."""
        return list(read_records(self.folder).values())

    def done(self) -> set[str]:
        """Return a copy of the ids of items done (recorded without error, on disk when the store was
        opened or appended since); O(n): test one item with `has()`."""
        return set(self._ids)

    def has(self, item_id: str) -> bool:
        """Return whether item `item_id` is done (recorded without error)."""
        return str(item_id) in self._ids

    def error(self, item_id: str) -> str | None:
        """Return the error of item `item_id` when its last record failed, else None."""
        return self._errors.get(str(item_id))

    def append(self, record: dict) -> None:
        """Append one record (must have an `id`): written through to the OS at once, fsynced at most
        every SYNC_INTERVAL_S seconds."""
        line = encode_record(record)
        if self._fh is None:
            self._fh = open(self.path, "ab")
            if self._fh.tell() and not _ends_with_newline(self.path):
                self._fh.write(b"\n")   # end a torn last line, so it stays one skipped line
        self._fh.write(line + b"\n")
        self._fh.flush()
        now = time.monotonic()
        if now - self._synced >= SYNC_INTERVAL_S:
            os.fsync(self._fh.fileno())
            self._synced = now
        if "error" in record:
            self._ids.discard(str(record["id"]))
            self._errors[str(record["id"])] = str(record["error"])
        else:
            self._ids.add(str(record["id"]))
            self._errors.pop(str(record["id"]), None)

    def close(self) -> None:
        """Fsync and close the record file (appending again reopens it)."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "RecordStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:   # interpreter shutdown: the lines are with the OS already
            pass


def encode_record(record: dict) -> bytes:
    """Return `record` as one line of JSON (sorted keys, no newline): orjson, or the json module when
    orjson wrote a null (it writes NaN and Infinity as null; json keeps them)."""
    line = orjson.dumps(record, default=_json_default,
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    if b"null" in line:
        line = json.dumps(record, sort_keys=True, default=_json_default).encode("utf-8")
    return line


def decode_record(line: str | bytes) -> Any:
    """Return the value of one JSON line; raise ValueError when it is not JSON (a torn line)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)   # NaN / Infinity, which orjson does not read


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def read_records(folder: str | os.PathLike) -> dict[str, dict]:
    """Return {id: record} from every `records*.jsonl` in `folder`, skipping torn lines."""
    return read_records_and_torn(folder)[0]


def read_records_and_torn(folder: str | os.PathLike) -> tuple[dict[str, dict], dict[Path, int]]:
    """Return ({id: record}, {record file: number of torn lines skipped}) of `folder`."""
    out: dict[str, dict] = {}
    torn: dict[Path, int] = {}
    for path in sorted(Path(folder).glob("records*.jsonl")):
        for line in _lines(path):
            try:
                rec = decode_record(line)
            except ValueError:   # a line torn by an interrupted write
                torn[path] = torn.get(path, 0) + 1
                continue
            if isinstance(rec, dict) and "id" in rec:
                out[str(rec["id"])] = rec
    return out, torn


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _lines(path: Path) -> Iterable[bytes]:
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield line
