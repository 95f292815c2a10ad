"""RapidOCR's bundled PP-OCR recognition model (ONNX, inside the `rapidocr` wheel), recognition only.

Batching goes through a private API of rapidocr 3.10.0 (`RapidOCR._load_rec_model()` and
`TextRecInput`, REFERENCE.md section 3): the version is pinned and a test exercises it. The batched
path pads every image of a batch to the widest one (at least 320 x 48); to keep each word's result
independent of its batch, words no wider than 320/48 are batched (their padded width is always 320)
and wider ones run alone.

`width="compact"` (`--recognizer-option width=compact`) instead pads each word only to its own width
rounded up to 16 px (at least 64) and batches words of equal padded width: about 1.9x the words/s on
SVT for one or two words less (docs/icdar13.md). It calls the recogniser's `resize_norm_img`,
`session` and `postprocess_op` directly (the same pinned private API).
"""
from __future__ import annotations

import importlib.metadata
import math

import numpy as np

from harness.errors import HarnessError
from tasks.icdar13.recognizers import Recognizer, RecognizerOptions, construct

TESTED_VERSION = "3.10.0"


class RapidOCRRecognizer(Recognizer):
    """PP-OCR text-line recogniser of RapidOCR, run batched on word crops."""

    name = "rapidocr"

    def __init__(self, batch_size: int = 32, threads: int | None = None, width: str = "padded"):
        try:
            from rapidocr import RapidOCR
            from rapidocr.ch_ppocr_rec.typings import TextRecInput
        except ImportError as exc:
            raise HarnessError(f"recogniser rapidocr needs the packages rapidocr=={TESTED_VERSION} and "
                               f"onnxruntime ({exc})") from None
        self.version = importlib.metadata.version("rapidocr")
        params = {"Global.use_det": False, "Global.use_cls": False, "Global.log_level": "warning",
                  "Rec.rec_batch_num": int(batch_size)}
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(threads)
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        engine = RapidOCR(params=params)
        if not hasattr(engine, "_load_rec_model"):
            raise HarnessError(f"rapidocr {self.version}: no _load_rec_model (tested with {TESTED_VERSION}); "
                               f"install rapidocr=={TESTED_VERSION}")
        self._rec = engine._load_rec_model()
        if threads:
            self._replace_session(int(threads))
        self._input = TextRecInput
        if width not in ("padded", "compact"):
            raise HarnessError(f"recogniser rapidocr: width must be 'padded' or 'compact', got {width!r}")
        self.batch_size, self.threads, self.width = int(batch_size), threads, width
        shape = self._rec.rec_image_shape
        self._max_ratio = shape[2] / shape[1]  # 320 / 48
        cfg = self._rec.cfg
        self.model = (f"{_value(cfg.get('ocr_version'))} {_value(cfg.get('lang_type'))} "
                      f"{_value(cfg.get('model_type'))} rec ({_value(cfg.get('engine_type'))}, in the wheel)")

    def _replace_session(self, threads: int) -> None:
        """Reopen the ONNX model with `threads` threads that sleep instead of spinning when idle.

        On this shared machine spinning onnxruntime threads measured about 1.4x slower (words/s) under
        load; rapidocr's own options cannot set it (its config accepts no SessionOptions).
        """
        import onnxruntime as ort

        model_path = getattr(self._rec.session.session, "_model_path", None)
        if not model_path:
            return
        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._rec.session.session = ort.InferenceSession(str(model_path), options,
                                                         providers=["CPUExecutionProvider"])

    def _run(self, bgr: list[np.ndarray]) -> tuple[list[str], list[float]]:
        from rapidocr.inference_engine.onnxruntime.main import ONNXRuntimeError

        try:
            out = self._rec(self._input(img=bgr))
        except ONNXRuntimeError as exc:  # the task records RuntimeError per word and goes on
            raise RuntimeError(f"onnxruntime failed: {str(exc).strip().splitlines()[-1]}") from None
        return [str(t) for t in out.txts], [float(s) for s in out.scores]

    def _run_compact(self, bgr: list[np.ndarray], width: int) -> tuple[list[str], list[float]]:
        from rapidocr.inference_engine.onnxruntime.main import ONNXRuntimeError

        height = self._rec.rec_image_shape[1]
        batch = np.stack([self._rec.resize_norm_img(im, width / height) for im in bgr]).astype(np.float32)
        try:
            preds = self._rec.session(batch)
        except ONNXRuntimeError as exc:
            raise RuntimeError(f"onnxruntime failed: {str(exc).strip().splitlines()[-1]}") from None
        lines, _ = self._rec.postprocess_op(preds, False, wh_ratio_list=[im.shape[1] / im.shape[0] for im in bgr],
                                            max_wh_ratio=width / height)
        return [str(t) for t, _ in lines], [float(s) for _, s in lines]

    def _recognize_compact(self, bgr):
        height = self._rec.rec_image_shape[1]
        groups: dict[int, list[int]] = {}
        for i, im in enumerate(bgr):
            width = max(64, math.ceil(height * im.shape[1] / im.shape[0] / 16) * 16)
            groups.setdefault(width, []).append(i)
        texts, scores = [""] * len(bgr), [0.0] * len(bgr)
        for width, members in sorted(groups.items()):
            for start in range(0, len(members), self.batch_size):
                chunk = members[start:start + self.batch_size]
                t, s = self._run_compact([bgr[i] for i in chunk], width)
                for i, ti, si in zip(chunk, t, s):
                    texts[i], scores[i] = ti, si
        return texts, scores

    def recognize(self, images):
        bgr = [np.ascontiguousarray(img[:, :, ::-1]) for img in images]
        if self.width == "compact":
            return self._recognize_compact(bgr)
        texts, scores = [""] * len(bgr), [0.0] * len(bgr)
        narrow = [i for i, im in enumerate(bgr) if im.shape[1] / im.shape[0] <= self._max_ratio]
        wide = [i for i, im in enumerate(bgr) if im.shape[1] / im.shape[0] > self._max_ratio]
        for start in range(0, len(narrow), self.batch_size):
            chunk = narrow[start:start + self.batch_size]
            t, s = self._run([bgr[i] for i in chunk])
            for i, ti, si in zip(chunk, t, s):
                texts[i], scores[i] = ti, si
        for i in wide:
            t, s = self._run([bgr[i]])
            texts[i], scores[i] = t[0], s[0]
        return texts, scores

    def describe(self):
        return {"name": self.name, "package": f"rapidocr {self.version}", "model": self.model,
                "input": "BGR, height 48, " + ("width padded to max(320, own), batched <= 320 wide"
                                               if self.width == "padded" else
                                               "width padded to own rounded up to 16 (>= 64), batched by width"),
                "batch_size": self.batch_size, "threads": self.threads,
                "spinning": "default" if not self.threads else "off"}


def _value(enum_or_text) -> str:
    return str(getattr(enum_or_text, "value", enum_or_text))


def build(options: RecognizerOptions) -> Recognizer:
    if options.weights:
        raise HarnessError("recogniser rapidocr uses the model inside its wheel; --recognizer-weights is for trba")
    return construct(RapidOCRRecognizer, options, batch_size=options.batch_size, threads=options.threads)
