"""The ncnn runtime as a test oracle: one forward pass of an ncnn model on the CPU."""
from __future__ import annotations

import numpy as np


def ncnn_forward(ncnn, param, weights, x: np.ndarray, input_blob: str, output_blob: str) -> np.ndarray:
    """Return the `output_blob` of the ncnn model (`param`, `weights`) for the C x H x W float32 `x`."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = 1
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    extractor = net.create_extractor()
    mat = ncnn.Mat(x)  # does not copy: `x` must stay alive until extract()
    extractor.input(input_blob, mat)
    ret, out = extractor.extract(output_blob)
    assert ret == 0
    return np.array(out)
