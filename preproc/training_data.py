"""Extra HR training images for the CAJNN trainer, rebuilt from local copies of public repositories.

The images stay out of git. Each source below names a public GitHub repository, a commit and a
folder in it; this module reads the files from a local copy of that repository at that commit
(no network access), checks that the listing is exactly the one recorded here (count and the
sha256 of the sorted `name sha256` lines), drops images whose shorter side is under 128 px and
images that are (near-)duplicates of a test image, and writes the rest unmodified (original bytes)
to OUT/<source name>/, with OUT/SOURCES.json describing what was written.

    python -m preproc.training_data [--out ../extra_train] [--mirror-root /work/.mirror]
        [--check-against DIR ...]

A local copy is either the snapshot the search tool's `fetch github:OWNER/NAME` leaves at
MIRROR_ROOT/OWNER+NAME/repo (a bare git directory), or a plain clone at MIRROR_ROOT/OWNER+NAME
(`git clone https://github.com/OWNER/NAME MIRROR_ROOT/OWNER+NAME`; it must contain the commit).

Add the folders to a config's `train_folders` (e.g. "../extra_train/BSDS500_test", beside `../shared`, as
`preproc/configs/probe_paper_ft_bsds500.json` does) to train on
them. Never add a test set here: Set5, Set14, BSD100 (= BSDS300 test = BSDS500 *val*), Urban100,
Manga109, Kodak24, McMaster, CBSD68, ICDAR/IC13, SVT, WIDER FACE; `tests/preproc/test_training_data.py`
checks the names. `--check-against` (default: ../shared/data/sr, the Set5 and Set14 used here)
additionally rejects any image whose bytes or 32 x 32 thumbnail (under all 8 rotations/flips)
match an image in the given folders.

| source | repository @ commit | path in repository | images | format | licence as stated |
|---|---|---|---|---|---|
| BSDS500_test | Sisso16/ssn_pytorch @ c4f9ac8c | BSR/BSDS500/data/images/test | 200 | JPEG 481x321 / 321x481 | repo: MIT (its code); images: none stated (Berkeley BSDS500, upstream terms: non-commercial research and education) |

BSDS500_test is the 200-image *test* split that BSDS500 added to BSDS300; it is disjoint from the
project's BSD200 (BSDS500 train) and from BSD100 (BSDS500 val). It is used for training by the
DnCNN line of work ("BSD400" = train + test). JPEG sources carry their own (mild) compression
artifacts, as BSD200 does. Checked once (2026-12-03) with `--check-against` folders exported from
jiny2001/dcscn-super-resolution (data/bsd100, set5, set14), majedelhelou/denoising_datasets (BSD68,
CBSD68, Set5, Set14, Urban100, Manga109, Sun_Hays80, colour and grey) and BSDS500 val: no copy (the
nearest thumbnail differs by 15.3 grey levels on average; BSDS500 val against BSD100, the positive
control, matches 100 of 100 within 1.6).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from harness.errors import HarnessError
from harness.image import IMAGE_EXTENSIONS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR_ROOT = Path("/work/.mirror")
DEFAULT_CHECK = PROJECT_ROOT.parent / "shared" / "data" / "sr"
MIN_SIDE = 128


@dataclass(frozen=True)
class Source:
    name: str          # OUT/<name>/
    repo: str          # owner/name on GitHub
    commit: str        # full commit hash
    path: str          # folder in the repository (not recursive)
    count: int         # image files in that folder at that commit
    list_sha256: str   # sha256 of the sorted "name sha256(bytes)\n" lines of those files
    licence: str
    names: str         # the file stems, space separated (for the test-set name check)


# BSDS500 test split: 200 image ids (BSDS500's own numbering).
_BSDS500_TEST = (
    "2018 3063 5096 6046 8068 10081 14085 14092 15011 15062 16004 16068 17067 20069 23050 28083 29030 "
    "33044 35028 35049 36046 41006 41029 41085 41096 43033 43051 45000 48017 48025 49024 51084 61034 "
    "64061 65084 69000 69007 69022 70011 70090 71076 71099 77062 78098 79073 80085 80090 81066 81090 "
    "81095 87015 92014 94095 97010 100007 100039 100099 101027 101084 102062 103006 103029 103078 "
    "104010 104055 105027 106005 106047 107014 107045 107072 108004 108036 108069 109055 112056 "
    "112090 117025 118015 118031 118072 120003 120093 123057 128035 130014 130066 134049 134067 "
    "140006 140088 141012 141048 145059 145079 146074 147077 147080 156054 157032 157087 159002 "
    "159022 160006 160067 161045 163004 163096 164046 168084 175083 176051 179084 181021 183066 "
    "185092 187058 187099 188025 189006 189013 189029 189096 196027 196040 196062 196088 198087 "
    "201080 202000 206062 206097 207038 207049 208078 209021 217013 217090 220003 223004 223060 "
    "225022 226022 226033 226043 226060 228076 230063 230098 232076 235098 238025 243095 246009 "
    "247003 247012 249021 250047 250087 253016 253092 257098 258089 259060 267036 268048 268074 "
    "277053 279005 281017 285022 288024 289011 290035 296028 296058 302022 306051 306052 309040 "
    "317043 326025 326085 334025 335088 335094 344010 346016 347031 365072 368037 372019 376086 "
    "384022 384089 385022 388006 388018 388067 393035")

SOURCES: tuple[Source, ...] = (
    Source(name="BSDS500_test", repo="Sisso16/ssn_pytorch",
           commit="c4f9ac8c43397cbacbf2e2ba1505efafa769435d",
           path="BSR/BSDS500/data/images/test", count=200,
           list_sha256="4c86e4cce33a730f38bc8ca8405f310af5b69fa90f12ebaf4112d5f56081d774",
           licence="repository: MIT (code); images: no licence stated (Berkeley BSDS500: "
                   "non-commercial research and educational use upstream)",
           names=_BSDS500_TEST),
)

# Test sets never to train on. BSD100 = BSDS300 test = BSDS500 val (these 100 ids; CBSD68 is a
# subset); Set5 / Set14 by their usual names.
BSD100_IDS = frozenset((
    "3096 8023 12084 14037 16077 19021 21077 24077 33039 37073 38082 38092 41033 41069 42012 42049 "
    "43074 45096 54082 55073 58060 62096 65033 66053 69015 69020 69040 76053 78004 85048 86000 86016 "
    "86068 87046 89072 97033 101085 101087 102061 103070 105025 106024 108005 108070 108082 109053 "
    "119082 123074 126007 130026 134035 143090 145086 147091 148026 148089 156065 157055 159008 "
    "160068 163085 167062 167083 170057 175032 175043 182053 189080 196073 197017 208001 210088 "
    "216081 219090 220075 223061 227092 229036 236037 241004 241048 253027 253055 260058 271035 "
    "285079 291000 295087 296007 296059 299086 300091 302008 304034 304074 306005 351093 361010 "
    "376043 385039").split())
SET5_SET14_NAMES = frozenset(
    "baby bird butterfly head woman baboon barbara bridge coastguard comic face flowers foreman lenna "
    "man monarch pepper ppt3 zebra".split())
TEST_SET_WORDS = ("set5", "set14", "bsd100", "b100", "bsds300/test", "urban100", "manga109", "kodak",
                  "mcmaster", "cbsd68", "bsd68", "icdar", "ic13", "svt", "wider", "/val", "sun_hays",
                  "historical", "div2k_valid", "div2k100")


def mirror_dir(repo: str, root: Path) -> Path:
    """The local copy of `repo` under `root`: the fetch tool's bare snapshot, else a plain clone."""
    base = Path(root) / repo.replace("/", "+")
    for candidate in (base / "repo", base):
        if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
            return candidate
    raise HarnessError(
        f"no local copy of {repo} under {root} (looked for {base}/repo and {base}): fetch it with the "
        f"search tool (fetch github:{repo}) or `git clone https://github.com/{repo} {base}`, "
        f"or pass --mirror-root")


def _git(gitdir: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(gitdir), *args], capture_output=True)
    if proc.returncode:
        raise HarnessError(f"git {' '.join(args)} in {gitdir}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def list_files(gitdir: Path, commit: str, path: str) -> list[tuple[str, str]]:
    """(file name, blob id) of the image files directly in `path` at `commit`."""
    if subprocess.run(["git", "-C", str(gitdir), "cat-file", "-e", f"{commit}^{{commit}}"],
                      capture_output=True).returncode:
        raise HarnessError(f"{gitdir} does not contain commit {commit}: update the copy "
                           f"(fetch again, or `git fetch` in the clone)")
    out = []
    for line in _git(gitdir, "ls-tree", "-z", commit, path.rstrip("/") + "/").split(b"\0"):
        if not line:
            continue
        meta, name = line.decode().split("\t", 1)
        _mode, kind, blob = meta.split()
        name = name.rsplit("/", 1)[-1]
        if kind == "blob" and name.lower().endswith(IMAGE_EXTENSIONS):
            out.append((name, blob))
    return sorted(out)


def list_digest(items: list[tuple[str, bytes]]) -> str:
    """sha256 of the sorted `name sha256(bytes)` lines: one hash for a whole listing."""
    lines = "".join(f"{name} {hashlib.sha256(data).hexdigest()}\n" for name, data in sorted(items))
    return hashlib.sha256(lines.encode()).hexdigest()


def too_small(size: tuple[int, int], min_side: int = MIN_SIDE) -> bool:
    """True when an image of `size` (w, h) has a side under `min_side` pixels."""
    return min(size) < min_side


def thumbnails(img: Image.Image) -> list[np.ndarray]:
    """32 x 32 grey thumbnails of `img` under the 8 rotations/flips (for near-duplicate checks)."""
    base = np.asarray(img.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float32)
    out = []
    for k in range(8):
        t = np.rot90(base, k % 4)
        out.append(t[:, ::-1] if k >= 4 else t)
    return out


class HeldOutIndex:
    """Byte hashes and thumbnails of every image under some folders, to reject copies of them."""

    def __init__(self, folders: list[Path], tolerance: float = 3.0):
        self.hashes: dict[str, str] = {}
        self.paths: list[str] = []
        thumbs = []
        self.tolerance = tolerance
        for folder in folders:
            for path in sorted(Path(folder).rglob("*")):
                if path.suffix.lower() in IMAGE_EXTENSIONS:
                    data = path.read_bytes()
                    self.hashes[hashlib.sha256(data).hexdigest()] = str(path)
                    with Image.open(io.BytesIO(data)) as img:
                        thumbs.append(thumbnails(img)[0])
                    self.paths.append(str(path))
        self.thumbs = np.stack(thumbs) if thumbs else np.zeros((0, 32, 32), np.float32)

    def match(self, data: bytes, img: Image.Image) -> str | None:
        """The held-out image that `data` copies (same bytes, or thumbnails within `tolerance` grey
        levels on average under some rotation/flip), else None."""
        hit = self.hashes.get(hashlib.sha256(data).hexdigest())
        if hit or not self.paths:
            return hit
        diff = np.abs(self.thumbs[None] - np.stack(thumbnails(img))[:, None]).mean(axis=(2, 3))
        k = int(diff.min(axis=0).argmin())
        return self.paths[k] if diff[:, k].min() < self.tolerance else None


def extract(source: Source, out: Path, mirror_root: Path, check: HeldOutIndex | None = None,
            min_side: int = MIN_SIDE) -> dict:
    """Write `source`'s images to out/<name>/ and return what was written and skipped."""
    gitdir = mirror_dir(source.repo, mirror_root)
    files = list_files(gitdir, source.commit, source.path)
    items = []
    for name, blob in files:
        data = _git(gitdir, "cat-file", "blob", blob)
        if data.startswith(b"version https://git-lfs"):
            raise HarnessError(f"{source.repo}:{source.path}/{name} is a Git LFS pointer, not an image")
        items.append((name, data))
    digest = list_digest(items)
    stems = sorted(name.rsplit(".", 1)[0] for name, _ in items)
    if len(items) != source.count or digest != source.list_sha256 or stems != sorted(source.names.split()):
        raise HarnessError(f"{source.name}: {source.repo}@{source.commit[:8]}:{source.path} has {len(items)} "
                           f"images (list sha256 {digest}), expected {source.count} ({source.list_sha256})")
    dest = Path(out) / source.name
    dest.mkdir(parents=True, exist_ok=True)
    written, small, dupes, pixels = [], [], [], 0
    for name, data in items:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if too_small(img.size, min_side):
                small.append(name)
                continue
            hit = check.match(data, img) if check else None
            if hit:
                dupes.append(f"{name} = {hit}")
                continue
            pixels += img.size[0] * img.size[1]
        (dest / name).write_bytes(data)
        written.append(name)
    return {**{k: v for k, v in asdict(source).items() if k != "names"}, "folder": str(dest),
            "written": len(written), "skipped_small": small, "skipped_test_copies": dupes,
            "megapixels": round(pixels / 1e6, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preproc.training_data", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "extra_train",
                        help="where the images go (default: extra_train beside the project folder)")
    parser.add_argument("--mirror-root", type=Path, default=DEFAULT_MIRROR_ROOT)
    parser.add_argument("--check-against", type=Path, nargs="*", default=None,
                        help=f"folders of test images to reject copies of (default: {DEFAULT_CHECK} if present)")
    parser.add_argument("--min-side", type=int, default=MIN_SIDE)
    args = parser.parse_args(argv)
    folders = args.check_against if args.check_against is not None else (
        [DEFAULT_CHECK] if DEFAULT_CHECK.is_dir() else [])
    try:
        check = HeldOutIndex(folders) if folders else None
        report = [extract(s, args.out, args.mirror_root, check, args.min_side) for s in SOURCES]
    except HarnessError as exc:
        print(f"training_data: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "SOURCES.json").write_text(json.dumps(
        {"checked_against": [str(f) for f in folders], "sources": report}, indent=1) + "\n")
    for r in report:
        print(f"{r['name']}: {r['written']} images ({r['megapixels']} MP) from {r['repo']}@{r['commit'][:8]}:"
              f"{r['path']} -> {r['folder']}; skipped {len(r['skipped_small'])} under {args.min_side} px, "
              f"{len(r['skipped_test_copies'])} copies of test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
