"""The restored-image cache (`run_all.py --cache DIR`): restore an input once per restorer, reuse it.

Scoring a new detector or recogniser on images that were already restored should not rerun the
restorer. `CachedPreprocessor` wraps any preprocessor; `RunContext.preprocessor` applies it when
`--cache` is given, so every task benefits without code of its own.

An entry is keyed by
- the restorer's identity: its spec, its `describe()` (which names its weights and their hash for
  network restorers), and the SHA-256 of every weights file the spec uses (`--weights NAME=PATH` for a
  stage named NAME, the file of a `spandrel:PATH` stage, the source file of a `MODULE:CALLABLE` stage):
  a changed weights file gives another identity, so its old entries are never read;
- the SHA-256 of the input image (shape and pixels). The degradation that made the input is implied by
  its pixels; a caller that knows it may pass it (`degradation=...`) and it is recorded in the entry.

Layout: DIR/<spec slug>_<identity hash>/identity.json, and one lossless PNG per entry in
DIR/<...>/<first 2 hex digits>/<input hash>.png (written atomically, so concurrent ranks can share one
cache). An unreadable or wrongly sized entry is recomputed and rewritten. Specs made only of cheap
built-in stages (none, bicubic, down) are not cached: recomputing them is faster than reading a PNG.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from harness.image import check_image
from harness.registry import PLAIN_STAGES, REGISTRY, BuildOptions, DownToInput, Preprocessor, stage_names
from harness.store import atomic_write_bytes, atomic_write_json, config_key, file_sha256, slug

PNG_COMPRESS_LEVEL = 1  # fast to write; restored images are large and compress poorly anyway


def image_sha256(image: np.ndarray) -> str:
    """Return the hex SHA-256 of an image's shape, dtype and pixels."""
    digest = hashlib.sha256(f"{image.shape}|{image.dtype}|".encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def _stage_files(spec: str, options: BuildOptions) -> dict[str, str]:
    """Return {what: sha256} for the files that define the stages of `spec` beyond their describe()."""
    files = {}
    for stage in stage_names(spec):
        if stage in options.weights:
            files[f"weights:{stage}"] = file_sha256(options.weights[stage])
        elif stage.startswith("spandrel:"):
            path = stage.partition(":")[2]
            if Path(path).is_file():
                files[stage] = file_sha256(path)
        elif ":" in stage and stage not in REGISTRY:
            module = stage.partition(":")[0]
            try:
                found = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                found = None
            if found is not None and found.origin and Path(found.origin).is_file():
                files[f"source:{module}"] = file_sha256(found.origin)
    return files


# Stages that cost less to recompute than to read back from a PNG: specs made only of these are not cached.
CHEAP_STAGES = frozenset(PLAIN_STAGES)


def worth_caching(spec: str) -> bool:
    """Return False for specs whose every stage is cheaper to recompute than to load (e.g. bicubic)."""
    return not all(p in CHEAP_STAGES for p in stage_names(spec))


class CachedPreprocessor(Preprocessor):
    """A preprocessor whose outputs are kept on disk, keyed by (restorer identity, input image)."""

    def __init__(self, inner: Preprocessor, cache_dir: str | Path, spec: str,
                 options: BuildOptions | None = None):
        self.inner, self.spec = inner, spec
        self.name, self.scale = inner.name, inner.scale
        self.identity = {"spec": spec, "describe": inner.describe(),
                         "files": _stage_files(spec, options or BuildOptions())}
        self.folder = Path(cache_dir) / f"{slug(spec)}_{config_key(self.identity)}"
        self.hits = self.misses = 0
        self.seconds_saved = 0.0  # restore time the hits would have cost (recorded in the entries)
        self._seconds: dict[str, float] = {}

    # What identifies results stays the wrapped restorer's: a run with the cache writes the same
    # record stores as one without.
    def describe(self) -> dict:
        return self.inner.describe()

    def about(self) -> dict:
        return self.inner.about()

    @property
    def num_parameters(self):
        return self.inner.num_parameters

    def __getattr__(self, attr):  # e.g. `stages` of a Pipeline
        if attr == "inner":  # not yet set (during unpickling)
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def entry_path(self, image: np.ndarray) -> Path:
        """Return the file that holds (or will hold) the output for `image`."""
        key = image_sha256(image)
        return self.folder / key[:2] / f"{key}.png"

    def __call__(self, image: np.ndarray, degradation: str | None = None) -> np.ndarray:
        return self.process_batch([image], degradation)[0]

    def process_batch(self, images: list[np.ndarray], degradation: str | None = None) -> list[np.ndarray]:
        """Return the outputs for `images`, running the restorer (batched) only on the cache misses."""
        paths = [self.entry_path(check_image(img, what="preprocessor input")) for img in images]
        outs = [self._load(path, self._expected_shape(img)) for path, img in zip(paths, images)]
        missing = [i for i, out in enumerate(outs) if out is None]
        self.seconds_saved += sum(self._seconds.pop(str(p), 0.0) for p in paths)
        self.hits += len(images) - len(missing)
        if missing:
            self.misses += len(missing)
            t0 = time.perf_counter()
            restored = self.inner.process_batch([images[i] for i in missing])
            seconds = (time.perf_counter() - t0) / len(missing)
            if not (self.folder / "identity.json").exists():
                atomic_write_json(self.folder / "identity.json", self.identity)
            for i, out in zip(missing, restored):
                self._store(paths[i], out, images[i], seconds, degradation)
                outs[i] = out
        return outs

    def cache_summary(self) -> str:
        """Return one line: hits and misses of this run, and where the entries are."""
        return (f"cache {self.spec}: {self.hits} hit(s) (about {self.seconds_saved:.1f} s of restoring "
                f"saved), {self.misses} miss(es); {self.folder}")

    def _expected_shape(self, image: np.ndarray) -> tuple:
        stages = getattr(self.inner, "stages", None)
        if stages and isinstance(stages[-1], DownToInput):
            return image.shape
        return (image.shape[0] * self.scale, image.shape[1] * self.scale, 3)

    def _load(self, path: Path, shape: tuple) -> np.ndarray | None:
        try:
            with Image.open(path) as img:
                img.load()
                out = np.asarray(img.convert("RGB") if img.mode != "RGB" else img, dtype=np.uint8)
                seconds = img.info.get("restore_seconds", "0")
        except FileNotFoundError:
            return None
        except (OSError, SyntaxError, ValueError):  # a damaged entry: recompute and rewrite it
            return None
        if out.shape != tuple(shape):
            return None
        try:
            self._seconds[str(path)] = float(seconds)
        except ValueError:
            pass
        return np.ascontiguousarray(out)

    def _store(self, path: Path, out: np.ndarray, image: np.ndarray, seconds: float,
               degradation: str | None) -> None:
        info = PngImagePlugin.PngInfo()
        info.add_text("spec", self.spec)
        info.add_text("input_shape", "x".join(map(str, image.shape)))
        info.add_text("restore_seconds", f"{seconds:.6f}")
        if degradation:
            info.add_text("degradation", str(degradation))
        buf = io.BytesIO()
        Image.fromarray(check_image(out, what=f"output of {self.spec!r}")).save(
            buf, "PNG", compress_level=PNG_COMPRESS_LEVEL, pnginfo=info)
        atomic_write_bytes(path, buf.getvalue())
