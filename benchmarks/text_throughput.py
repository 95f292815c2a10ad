"""Words per second of the text recognisers, batched, beside one-word-at-a-time in the same run.

    python benchmarks/text_throughput.py [--data ../shared/data/text/svt_test] [--threads 2]

Issue 10, item 5: the default recogniser (rapidocr), batched, on 2 cores; target 50 words/s. The
comparison (the same recogniser called with one word per call) is measured in the same run, on the
same words, so the ratio holds on a noisy machine. EasyOCR runs on the first --easyocr-words words only
(it is about 10x slower) to keep the script under 5 minutes. Image loading is not timed. "compact"
is rapidocr with `width=compact` (each word padded to its own width, not to 320 px; still batched).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.icdar13.datasets import load_word, open_word_set  # noqa: E402
from tasks.icdar13.recognizers import RecognizerOptions, build_recognizer  # noqa: E402
from tasks.icdar13.scoring import is_correct  # noqa: E402
from tasks.icdar13.smoke import smoke_set  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "text" / "svt_test"
TARGET = 50.0


def measure(recognizer, images, labels, batched: bool) -> tuple[float, int, float]:
    """Return (words/s, correct, seconds) of one pass over the images."""
    t0 = time.perf_counter()
    if batched:
        texts, _ = recognizer.recognize(images)
    else:
        texts = [recognizer.recognize([img])[0][0] for img in images]
    seconds = time.perf_counter() - t0
    return len(images) / seconds, sum(is_correct(t, l) for t, l in zip(texts, labels)), seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="word folder (default: shared svt_test)")
    parser.add_argument("--threads", type=int, default=2, help="engine threads (default 2 = the cores here)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--words", type=int, default=None, help="words for rapidocr (default: all)")
    parser.add_argument("--easyocr-words", type=int, default=48, help="words for easyocr (0 = skip)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if Path(args.data).is_dir():
        word_set = open_word_set(args.data)
    else:
        print(f"{args.data}: not found; using the embedded smoke set (rendered words, not SVT)")
        word_set = smoke_set()
    items = word_set.items[: args.words] if args.words else word_set.items
    images = [load_word(it) for it in items]
    labels = [it.label for it in items]
    print(f"text throughput, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other jobs share this machine), threads {args.threads}")
    print(f"data: {word_set.name}, {len(items)} words; batch size {args.batch_size}")
    print(f"{'recogniser':<10} {'mode':<18} {'words':>5} {'words/s':>8} {'seconds':>8} {'correct':>8}")
    results = {}
    runs = [("rapidocr", images, labels)]
    if args.easyocr_words:
        runs.append(("easyocr", images[: args.easyocr_words], labels[: args.easyocr_words]))
    for name, imgs, labs in runs:
        recs = {"": build_recognizer(name, RecognizerOptions(threads=args.threads, batch_size=args.batch_size))}
        if name == "rapidocr":
            recs["compact"] = build_recognizer(name, RecognizerOptions(threads=args.threads, batch_size=args.batch_size,
                                                                       extra={"width": "compact"}))
        for variant, rec in recs.items():
            rec.recognize(imgs[:4])  # warm-up: model load, allocator
            for mode in ("batched", "unbatched"):
                rate, correct, seconds = measure(rec, imgs, labs, batched=mode == "batched")
                label = f"{mode}" + (f"/{variant}" if variant else "")
                results[(name, label)] = rate
                print(f"{name:<10} {label:<18} {len(imgs):>5} {rate:>8.1f} {seconds:>8.1f} {correct:>4}/{len(imgs):<4}")
        print(f"{name:<10} batched / unbatched = {results[(name, 'batched')] / results[(name, 'unbatched')]:.2f}x")
        if name == "rapidocr":
            print(f"{name:<10} batched/compact / unbatched = "
                  f"{results[(name, 'batched/compact')] / results[(name, 'unbatched')]:.2f}x")
    for label in ("batched", "batched/compact"):
        rate = results[("rapidocr", label)]
        verdict = "met" if rate >= TARGET else f"NOT met (gap {TARGET - rate:.1f} words/s)"
        print(f"target: rapidocr {label} >= {TARGET:.0f} words/s: {rate:.1f} -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
