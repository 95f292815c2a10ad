"""Read ncnn models (`.param` text graph, `.bin` weights) into numpy, for conversion to PyTorch.

Only what converting a plain convolutional network needs: the layer list of a `.param` file and the
Convolution weights of its `.bin`, in layer order (REFERENCE.md section 6.2).

`.param`: line 1 the magic 7767517; line 2 `layer_count blob_count`; then one layer per line,
`Type Name n_in n_out <n_in input blobs> <n_out output blobs> key=value ...`, where a key `-233xx`
holds an array for key `xx` as `n,v1,...,vn`.
`.bin`: for each layer with weights, in `.param` order; a Convolution stores a 4-byte little-endian tag
(0x01306B47: fp16 values, padded to 4 bytes; 0: raw float32), the weights in PyTorch order
(out, in, kh, kw), then, when `5=1`, the bias as raw float32 with no tag. A Deconvolution (waifu2x's
upconv models) is stored the same way, (out, in, kh, kw) in ncnn's scatter order: PyTorch's
ConvTranspose2d weight (in, out, kh, kw) is its transpose, unflipped. Keys used: `0` outputs, `1`/`11`
kernel width/height, `2` dilation, `3` stride, `4` padding (ncnn crops it from a Deconvolution's
output, as ConvTranspose2d's `padding` does), `5` bias, `6` weight count, `7` groups, `9`/`10` fused
activation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

PARAM_MAGIC = "7767517"
TAG_FP16 = 0x01306B47
TAG_FP32 = 0
# Layer types that carry no weights in the .bin file (an unknown type with weights cannot be skipped).
WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "ReLU", "Sigmoid", "TanH",
              "Pooling", "PixelShuffle", "Crop", "Padding", "Reshape", "Permute", "Flatten", "Noop",
              "Clip", "Dropout", "UnaryOp", "Softmax"}


@dataclass
class NcnnLayer:
    """One line of a `.param` file: type, name, input and output blob names, and its key=value options."""

    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, float | int | list] = field(default_factory=dict)
    line: int = 0

    def get(self, key: int, default=None):
        """Return option `key` (an int, a float or a list), or `default`."""
        return self.params.get(key, default)


def _number(text: str) -> float | int:
    return float(text) if any(c in text for c in ".eE") else int(text)


def read_param(path: str | Path) -> list[NcnnLayer]:
    """Return the layers of an ncnn `.param` file; HarnessError names the file and line of a bad entry."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"ncnn param {path}: cannot read ({exc})") from None
    if not lines or lines[0].strip() != PARAM_MAGIC:
        raise HarnessError(f"ncnn param {path}: line 1 is not the magic {PARAM_MAGIC} (not a text .param)")
    try:
        layer_count = int(lines[1].split()[0])
    except (IndexError, ValueError):
        raise HarnessError(f"ncnn param {path}: line 2 must be 'layer_count blob_count'") from None
    layers = []
    for number, text in enumerate(lines[2:], start=3):
        parts = text.split()
        if not parts:
            continue
        try:
            kind, name, n_in, n_out = parts[0], parts[1], int(parts[2]), int(parts[3])
            inputs = parts[4:4 + n_in]
            outputs = parts[4 + n_in:4 + n_in + n_out]
            if len(outputs) != n_out:
                raise ValueError("fewer blob names than declared")
            params: dict[int, float | int | list] = {}
            for item in parts[4 + n_in + n_out:]:
                key, value = item.split("=", 1)
                key = int(key)
                if key <= -23300:
                    values = [_number(v) for v in value.split(",")]
                    params[-key - 23300] = values[1:1 + int(values[0])]
                else:
                    params[key] = _number(value)
        except ValueError as exc:
            raise HarnessError(f"ncnn param {path} line {number}: cannot parse ({exc})") from None
        layers.append(NcnnLayer(kind, name, inputs, outputs, params, number))
    if len(layers) != layer_count:
        raise HarnessError(f"ncnn param {path}: line 2 declares {layer_count} layers, found {len(layers)}")
    return layers


@dataclass
class ConvWeights:
    """The weights of one ncnn Convolution or Deconvolution layer, float32, as ncnn stores them."""

    layer: NcnnLayer
    weight: np.ndarray  # (out, in, kh, kw); a Deconvolution's is weight.transpose(1, 0, 2, 3) in PyTorch
    bias: np.ndarray | None  # (out,)
    leaky_slope: float | None  # the fused activation: 9=2 is LeakyReLU (slope in 10=), 9=1 ReLU (0.0)
    stride: int = 1
    padding: int = 0

    @property
    def transposed(self) -> bool:
        """Return True for a Deconvolution (PyTorch ConvTranspose2d)."""
        return self.layer.type == "Deconvolution"


def read_conv_weights(param_path: str | Path, bin_path: str | Path) -> list[ConvWeights]:
    """Return the Convolution and Deconvolution layers of an ncnn model with their weights, in `.param`
    order.

    Raises HarnessError for other layer types with weights, options this reader does not handle (groups,
    dilation, a strided Convolution, uneven padding), unknown storage tags, or a `.bin` whose size differs
    from what the `.param` declares.
    """
    layers = read_param(param_path)
    bin_path = Path(bin_path)
    try:
        data = bin_path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"ncnn bin {bin_path}: cannot read ({exc})") from None
    offset, convs = 0, []
    for layer in layers:
        if layer.type in WEIGHTLESS:
            continue
        if layer.type not in ("Convolution", "Deconvolution"):
            raise HarnessError(f"ncnn param {param_path} line {layer.line}: layer type {layer.type!r} "
                               f"is not supported by this converter")
        out_ch, kw = int(layer.get(0)), int(layer.get(1, 1))
        kh, count = int(layer.get(11, kw)), int(layer.get(6))
        stride, padding = int(layer.get(3, 1)), int(layer.get(4, 0))
        strides = {stride, int(layer.get(13, stride))}
        paddings = {padding, *(int(layer.get(k, padding)) for k in (14, 15, 16))}
        if layer.get(2, 1) != 1 or layer.get(7, 1) != 1 or len(strides) != 1 or len(paddings) != 1 or \
                (layer.type == "Convolution" and stride != 1) or kh != kw:
            raise HarnessError(f"ncnn param {param_path} line {layer.line}: only square, one-group, "
                               f"undilated kernels with even padding (and stride 1 for a Convolution) "
                               f"are supported")
        in_ch = count // (out_ch * kh * kw)
        if in_ch * out_ch * kh * kw != count:
            raise HarnessError(f"ncnn param {param_path} line {layer.line}: weight count {count} does not "
                               f"divide into {out_ch} x {kh} x {kw}")
        if offset + 4 > len(data):
            raise HarnessError(f"ncnn bin {bin_path}: ends before the weights of {layer.name}")
        tag = int.from_bytes(data[offset:offset + 4], "little")
        offset += 4
        if tag == TAG_FP16:
            size = 2 * count
            weight = np.frombuffer(data, "<f2", count, offset).astype(np.float32)
            offset += (size + 3) // 4 * 4
        elif tag == TAG_FP32:
            weight = np.frombuffer(data, "<f4", count, offset).copy()
            offset += 4 * count
        else:
            raise HarnessError(f"ncnn bin {bin_path}: weights of {layer.name} have storage tag "
                               f"{tag:#010x} (only fp16 {TAG_FP16:#010x} and fp32 0 are supported)")
        bias = None
        if int(layer.get(5, 0)):
            bias = np.frombuffer(data, "<f4", out_ch, offset).copy()
            offset += 4 * out_ch
        activation = int(layer.get(9, 0))
        slope = {0: None, 1: 0.0}.get(activation)
        if activation == 2:
            slope = float((layer.get(10) or [0.0])[0])
        elif activation not in (0, 1):
            raise HarnessError(f"ncnn param {param_path} line {layer.line}: fused activation type "
                               f"{activation} is not supported")
        convs.append(ConvWeights(layer, weight.reshape(out_ch, in_ch, kh, kw), bias, slope, stride, padding))
    if offset != len(data):
        raise HarnessError(f"ncnn bin {bin_path}: {len(data)} bytes, but {param_path} declares {offset}")
    return convs
