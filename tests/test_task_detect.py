"""The detect task on hand-built YOLO and BlazeFace outputs: thresholds, class-wise NMS and boxes back through the letterbox."""

import json

import numpy as np
import pytest
from PIL import Image

from inpage.errors import InferenceError, InvalidArgumentError
from inpage.manifest import parse_entry
from inpage.tasks import get_task


def yolo_task(candidates=4, resize="letterbox", labels=("cat", "dog"), version="v8", output_shape=None, options=None):
    """The detect task for a YOLO export: 64x64 float32 NCHW input, grey letterbox, ``[1, 4+C, N]`` (v8) or ``[1, N, 5+C]`` (v5) output."""
    classes = len(labels)
    shape = output_shape or ([1, 4 + classes, candidates] if version == "v8" else [1, candidates, 5 + classes])
    spec = parse_entry({
        "name": "yolo", "task": "detect", "file": "yolo.onnx", "sha256": "0" * 64,
        "inputs": [{"name": "images", "dtype": "float32", "shape": [1, 3, 64, 64]}],
        "outputs": [{"name": "output0", "dtype": "float32", "shape": shape}],
        "image": {"input": "images", "layout": "NCHW", "resize": resize, "pad_value": 114,
                  "normalize": {"mean": [0, 0, 0], "std": [1, 1, 1], "units": "0-1"}},
        "head": {"type": "yolo"},
        "labels": list(labels),
        "options": options or {},
    })
    return get_task("detect")(spec)


def v8_output(*candidates):
    """A YOLOv8 ``[1, 4+C, N]`` output from ``(cx, cy, w, h, score_0, score_1, ...)`` rows, one per candidate."""
    return {"output0": np.array(candidates, np.float32).T[None]}


def detect(task, outputs, frame_size, **given):
    options = task.options(given)
    _, transform = task.prepare(Image.new("RGB", frame_size, (0, 0, 255)), options)
    return task.finish(outputs, transform, options)


def summary(detections):
    return [(d.label, d.index, round(d.score, 6), tuple(round(v, 4) for v in d.box)) for d in detections]


def test_yolo_v8_boxes_come_back_through_the_letterbox_to_frame_pixels():
    task = yolo_task(candidates=3)
    outputs = v8_output(
        (32, 32, 16, 8, 0.1, 0.9),  # dog 0.9: input box (24, 28, 40, 36)
        (50, 40, 10, 10, 0.2, 0.2),  # best score 0.2, under the default threshold 0.35: dropped
        (8, 20, 16, 16, 0.6, 0.0),  # cat 0.6: input box (0, 12, 16, 28), reaching into the padding above the frame
    )
    # A 128x64 frame in the 64x64 input: scale 0.5, 64x32, 16 rows of grey padding above and below.
    # Frame = ((x - 0) / 0.5, (y - 16) / 0.5): (24, 28, 40, 36) -> (48, 24, 80, 40);
    # (0, 12, 16, 28) -> (0, -8, 32, 24), clipped to the frame -> (0, 0, 32, 24).
    detections = detect(task, outputs, (128, 64))
    assert summary(detections) == [("dog", 1, 0.9, (48, 24, 80, 40)), ("cat", 0, 0.6, (0, 0, 32, 24))]
    assert detections[0].keypoints is None
    assert json.loads(json.dumps(task.payload(detections)))["detections"][1] == {
        "label": "cat", "index": 0, "score": pytest.approx(0.6), "box": [0, 0, 32, 24], "keypoints": None}


def overlapping():
    # On a 64x64 frame, stretched to the 64x64 input: model pixels are frame pixels.
    return v8_output(
        (20, 20, 20, 20, 0.8, 0.0),  # A, cat 0.8: (10, 10, 30, 30)
        (22, 20, 20, 20, 0.9, 0.0),  # B, cat 0.9: (12, 10, 32, 30); IoU with A = 18x20 / (400 + 400 - 360) = 360 / 440 = 0.818
        (20, 20, 20, 20, 0.0, 0.7),  # C, dog 0.7: exactly on A, but another class
        (50, 50, 10, 10, 0.5, 0.0),  # D, cat 0.5: (45, 45, 55, 55), overlapping nothing
    )


def test_nms_keeps_the_best_of_overlapping_boxes_of_one_class():
    task = yolo_task(resize="stretch")
    assert summary(detect(task, overlapping(), (64, 64))) == [
        ("cat", 0, 0.9, (12, 10, 32, 30)), ("dog", 1, 0.7, (10, 10, 30, 30)), ("cat", 0, 0.5, (45, 45, 55, 55))]
    # An IoU threshold above 0.818 keeps A as well.
    assert [d.score for d in detect(task, overlapping(), (64, 64), iou_threshold=0.85)] == pytest.approx([0.9, 0.8, 0.7, 0.5])
    # max_detections keeps the best that survive NMS.
    assert summary(detect(task, overlapping(), (64, 64), max_detections=2)) == [("cat", 0, 0.9, (12, 10, 32, 30)), ("dog", 1, 0.7, (10, 10, 30, 30))]


def test_the_score_threshold_comes_from_the_manifest_unless_the_call_gives_one():
    task = yolo_task(resize="stretch", options={"score_threshold": 0.75})
    assert [d.score for d in detect(task, overlapping(), (64, 64))] == pytest.approx([0.9])  # A is suppressed by B, C and D are under 0.75
    assert [d.score for d in detect(task, overlapping(), (64, 64), score_threshold=0.6)] == pytest.approx([0.9, 0.7])
    assert detect(task, overlapping(), (64, 64), score_threshold=0.95) == []


def test_yolo_v5_multiplies_class_scores_by_objectness():
    task = yolo_task(candidates=3, resize="stretch", version="v5")
    rows = np.array([
        (16, 16, 8, 8, 0.5, 0.9, 0.4),  # cat 0.5 x 0.9 = 0.45 > 0.35: kept, box (12, 12, 20, 20)
        (40, 40, 8, 8, 0.5, 0.2, 0.6),  # dog 0.5 x 0.6 = 0.30 < 0.35: dropped, though 0.6 alone would pass
        (48, 16, 4, 8, 1.0, 0.1, 0.5),  # dog 1.0 x 0.5 = 0.5: kept, box (46, 12, 50, 20)
    ], np.float32)[None]
    # A 128x128 frame stretched to 64x64: frame = model x 2.
    assert summary(detect(task, {"output0": rows}, (128, 128))) == [("dog", 1, 0.5, (92, 24, 100, 40)), ("cat", 0, 0.45, (24, 24, 40, 40))]


def test_an_output_that_fits_neither_yolo_layout_is_an_inference_error():
    # Dynamic dims pass the manifest check; at run time 2 + 4 rows are not 4 + 3 classes.
    task = yolo_task(labels=("a", "b", "c"), output_shape=[1, "rows", "N"])
    with pytest.raises(InferenceError, match=r"matches neither v8 nor v5 layout for 3 classes"):
        detect(task, v8_output((1, 1, 1, 1, 0.9, 0.0), (1, 1, 1, 1, 0.9, 0.0)), (64, 64))


def blazeface_task():
    spec = parse_entry({
        "name": "face", "task": "detect", "file": "face.onnx", "sha256": "0" * 64,
        "inputs": [{"name": "input", "dtype": "float32", "shape": [1, 128, 128, 3]}],
        "outputs": [{"name": "regressors", "dtype": "float32", "shape": [1, 896, 16]},
                    {"name": "classificators", "dtype": "float32", "shape": [1, 896, 1]}],
        "image": {"input": "input", "layout": "NHWC", "resize": "letterbox",
                  "normalize": {"mean": [127.5], "std": [127.5], "units": "0-255"}},
        "head": {"type": "blazeface"},
        "labels": ["face"],
    })
    return get_task("detect")(spec)


def test_blazeface_keypoints_come_back_through_the_letterbox_unclipped():
    # The head's own decoding is hand-checked in test_postprocess.py; here the keypoints reach the frame.
    task = blazeface_task()
    logits = np.full((1, 896, 1), -10.0, np.float32)
    regressors = np.zeros((1, 896, 16), np.float32)
    anchor = (5 * 16 + 2) * 2  # cell (row 5, col 2) of the 16x16 grid, stride 8: centre (20, 44)
    logits[0, anchor] = 3.0
    regressors[0, anchor, :4] = [0, 0, 10, 8]  # box (15, 40, 25, 48)
    regressors[0, anchor, 4:6] = [1, 1]  # keypoint 0 at (21, 45); keypoint 1 stays on the centre (20, 44)
    regressors[0, anchor, 8:10] = [0, -30]  # keypoint 2 at (20, 14): in the padding
    # A 256x128 frame in 128x128: scale 0.5, 128x64, 32 rows of padding above. Frame = (x / 0.5, (y - 32) / 0.5):
    # box -> (30, 16, 50, 32); keypoints -> (42, 26), (40, 24), (40, -36) (not clipped).
    (face,) = detect(task, {"regressors": regressors, "classificators": logits}, (256, 128))
    assert (face.label, face.index) == ("face", 0) and face.score == pytest.approx(1 / (1 + np.exp(-3)))
    assert face.box == pytest.approx((30, 16, 50, 32))
    assert face.keypoints[:3] == [pytest.approx((42, 26)), pytest.approx((40, 24)), pytest.approx((40, -36))]
    assert len(face.keypoints) == 6
    assert json.loads(json.dumps(task.payload([face])))["detections"][0]["keypoints"][2] == pytest.approx([40, -36])


def test_options_name_the_argument():
    # Bad strings, booleans, an IoU over 1 and a negative max_detections are checked in test_model.py, on a real model.
    task = yolo_task()
    assert task.options({}) == {"score_threshold": 0.35, "iou_threshold": 0.5, "max_detections": 100}
    for given, message in [({"max_detections": 20000}, "max_detections must be at most 10000, not 20000"),
                           ({"max_detections": 1.5}, "max_detections must be a positive integer, not 1.5"),
                           ({"score_threshold": float("nan")}, "score_threshold must be a number between 0 and 1, not nan"),
                           ({"iou_threshold": -0.5}, "iou_threshold must be a number between 0 and 1, not -0.5"),
                           ({"top_k": 3}, r"detect\(\) got unknown option\(s\) top_k; it takes: iou_threshold, max_detections, score_threshold")]:
        with pytest.raises(InvalidArgumentError, match=message):
            task.options(given)
