"""The pose task on hand-built keypoint outputs: MoveNet's layout mapped back through the letterbox, thresholds, order and names."""

import json

import numpy as np
import pytest
from PIL import Image

from inpage.errors import InferenceError, InvalidArgumentError, ManifestError
from inpage.manifest import parse_entry
from inpage.tasks import get_task
from inpage.tasks.pose import COCO_EDGES, COCO_KEYPOINTS


def pose_task(size=(192, 192), keypoints=17, resize="letterbox", head=None, options=None):
    """The pose task for a MoveNet-like entry: int32 NHWC input of ``size`` (width, height), output [1, 1, K, 3]."""
    width, height = size
    spec = parse_entry({
        "name": "movenet", "task": "pose", "file": "movenet.onnx", "sha256": "0" * 64,
        "inputs": [{"name": "input", "dtype": "int32", "shape": [1, height, width, 3]}],
        "outputs": [{"name": "output_0", "dtype": "float32", "shape": [1, 1, keypoints, 3]}],
        "image": {"input": "input", "layout": "NHWC", "resize": resize},
        "head": head or {},
        "options": options or {},
    })
    return get_task("pose")(spec)


def prepared(task, frame_size, **given):
    """Options and the FrameTransform the task's own prepare makes for a blank frame of ``frame_size``."""
    options = task.options(given)
    feeds, transform = task.prepare(Image.new("RGB", frame_size, (10, 20, 30)), options)
    return options, feeds, transform


def test_movenet_keypoints_land_on_the_original_frame_through_the_letterbox():
    task = pose_task()
    options, feeds, transform = prepared(task, (200, 100))
    # 200x100 into 192x192: scale min(192/200, 192/100) = 0.96, the image is 192x96, centred
    # vertically: 48 rows of padding above (offset_y = 48), none at the sides.
    assert feeds["input"].shape == (1, 192, 192, 3) and feeds["input"].dtype == np.int32
    assert (feeds["input"][0, :48] == 0).all() and (feeds["input"][0, 48:144] == (10, 20, 30)).all()
    rows = np.zeros((1, 1, 17, 3), np.float32)
    rows[0, 0, :, 2] = 0.5
    # (y, x, score) in 0..1 of the 192x192 input.
    rows[0, 0, 0] = (0.5, 0.5, 0.9)  # nose: input (96, 96) -> frame (96 / 0.96, (96 - 48) / 0.96) = (100, 50)
    rows[0, 0, 1] = (0.1, 0.25, 0.5)  # left eye: input (48, 19.2) -> frame (50, (19.2 - 48) / 0.96) = (50, -30), in the padding
    rows[0, 0, 2] = (0.75, 1.0, 0.5)  # right eye: input (192, 144) -> frame (200, 100), the bottom-right corner
    poses = task.finish({"output_0": rows}, transform, options)
    assert len(poses) == 1
    pose = poses[0]
    # The score is the mean keypoint score: (0.9 + 16 x 0.5) / 17 = 8.9 / 17.
    assert pose.score == pytest.approx(8.9 / 17, abs=1e-6)
    assert [k.name for k in pose.keypoints] == list(COCO_KEYPOINTS)
    nose, left_eye, right_eye = pose.keypoints[:3]
    assert (nose.x, nose.y, nose.score) == pytest.approx((100.0, 50.0, 0.9), abs=1e-4)
    # Keypoints are not clipped to the frame: a point in the padding stays off the image.
    assert (left_eye.x, left_eye.y) == pytest.approx((50.0, -30.0), abs=1e-4)
    assert (right_eye.x, right_eye.y) == pytest.approx((200.0, 100.0), abs=1e-4)
    # Every other keypoint sits at (y, x) = (0, 0): input (0, 0) -> frame (0, -48 / 0.96) = (0, -50).
    assert (pose.keypoints[16].x, pose.keypoints[16].y) == pytest.approx((0.0, -50.0), abs=1e-4)
    assert pose.edges == COCO_EDGES and len(pose.edges) == 16
    payload = json.loads(json.dumps(task.payload(poses)))
    assert payload["poses"][0]["keypoints"][0] == {"name": "nose", "x": pytest.approx(100.0, abs=1e-4), "y": pytest.approx(50.0, abs=1e-4),
                                                   "score": pytest.approx(0.9)}
    assert payload["poses"][0]["edges"][0] == [0, 1]


def test_xys_order_custom_keypoints_and_a_non_square_input():
    task = pose_task(size=(64, 32), keypoints=2, resize="stretch", head={"order": "xys", "keypoints": ["head", "tail"], "edges": [[0, 1]]})
    options, _, transform = prepared(task, (128, 128))
    rows = np.array([[[[0.25, 0.5, 0.8], [1.0, 0.0, 0.6]]]], np.float32)  # (x, y, score)
    (pose,) = task.finish({"output_0": rows}, transform, options)
    # Stretch 128x128 -> 64x32: scale_x = 0.5, scale_y = 0.25.
    # head: x = 0.25 x 64 = 16 -> 32; y = 0.5 x 32 = 16 -> 64.  tail: x = 64 -> 128; y = 0 -> 0.
    head, tail = pose.keypoints
    assert (head.name, head.x, head.y, head.score) == ("head", 32.0, 64.0, pytest.approx(0.8))
    assert (tail.name, tail.x, tail.y, tail.score) == ("tail", 128.0, 0.0, pytest.approx(0.6))
    assert pose.score == pytest.approx(0.7)
    assert pose.edges == ((0, 1),)


def test_custom_keypoints_without_edges_join_nothing():
    task = pose_task(keypoints=3, resize="stretch", head={"keypoints": ["a", "b", "c"]})
    options, _, transform = prepared(task, (192, 192))
    (pose,) = task.finish({"output_0": np.full((1, 1, 3, 3), 0.5, np.float32)}, transform, options)
    assert [k.name for k in pose.keypoints] == ["a", "b", "c"] and pose.edges == ()
    # yxs: (y, x) = (0.5, 0.5) of 192 -> (96, 96) on an unscaled 192x192 frame.
    assert [(k.x, k.y) for k in pose.keypoints] == [(96.0, 96.0)] * 3


def three_people():
    """Three poses of two keypoints, told apart by x (0.1, 0.2, 0.3 of the input), with mean scores 0.2, 0.8, 0.5."""
    rows = np.zeros((1, 3, 2, 3), np.float32)
    for person, (x, scores) in enumerate([(0.1, (0.1, 0.3)), (0.2, (0.7, 0.9)), (0.3, (0.5, 0.5))]):
        rows[0, person, :, 1] = x
        rows[0, person, :, 2] = scores
    return {"output_0": rows}


def test_several_poses_are_sorted_by_score_and_thresholded_on_the_mean():
    task = pose_task(size=(100, 100), keypoints=2, resize="stretch", head={"keypoints": ["a", "b"]})
    options, _, transform = prepared(task, (100, 100))
    poses = task.finish(three_people(), transform, options)
    # Default threshold 0: all three, best first; x = 0.2 x 100 = 20 for the 0.8 pose, and so on.
    assert [round(p.score, 6) for p in poses] == [0.8, 0.5, 0.2]
    assert [p.keypoints[0].x for p in poses] == pytest.approx([20.0, 30.0, 10.0])
    # Poses whose mean is *below* the threshold are left out: 0.5 itself stays.
    options = task.options({"score_threshold": 0.5})
    assert [p.keypoints[0].x for p in task.finish(three_people(), transform, options)] == pytest.approx([20.0, 30.0])
    options = task.options({"score_threshold": 0.81})
    assert task.finish(three_people(), transform, options) == []


def test_the_manifests_threshold_is_the_default_and_a_call_overrides_it():
    task = pose_task(size=(100, 100), keypoints=2, resize="stretch", head={"keypoints": ["a", "b"]}, options={"score_threshold": 0.6})
    _, _, transform = prepared(task, (100, 100))
    assert [round(p.score, 6) for p in task.finish(three_people(), transform, task.options({}))] == [0.8]
    assert [round(p.score, 6) for p in task.finish(three_people(), transform, task.options({"score_threshold": 0.1}))] == [0.8, 0.5, 0.2]


@pytest.mark.parametrize("shape", [(1, 1, 17, 2), (1, 1, 16, 3), (1, 51)])
def test_an_output_that_is_not_keypoint_rows_is_an_inference_error(shape):
    task = pose_task()
    options, _, transform = prepared(task, (192, 192))
    with pytest.raises(InferenceError, match=r"is not \[\.\.\., 17, 3\] keypoints"):
        task.finish({"output_0": np.zeros(shape, np.float32)}, transform, options)


def test_options_name_the_argument():
    task = pose_task()
    for given, message in [({"score_threshold": 1.5}, "score_threshold must be a number between 0 and 1, not 1.5"),
                           ({"score_threshold": "high"}, "score_threshold must be a number between 0 and 1, not 'high'"),
                           ({"top_k": 3}, r"estimate_pose\(\) got unknown option\(s\) top_k; it takes: score_threshold")]:
        with pytest.raises(InvalidArgumentError, match=message):
            task.options(given)


def test_manifest_head_problems_name_the_field():
    with pytest.raises(ManifestError, match="head.order must be yxs or xys, not 'yx'"):
        pose_task(head={"order": "yx"})
    with pytest.raises(ManifestError, match="head.keypoints names 2 keypoints, but output 'output_0' gives 17"):
        pose_task(head={"keypoints": ["a", "b"]})
    with pytest.raises(ManifestError, match=r"head.edges has \[0, 5\], which is not a pair of keypoint indices"):
        pose_task(keypoints=2, head={"keypoints": ["a", "b"], "edges": [[0, 5]]})
