"""Page = native: one comparison of a page result (the JS payload) with native inpage's result, per task.

The tolerances are the project's parity bar for every model and variant: the same labels in the same
order, scores within 1e-3, boxes overlapping by IoU >= 0.99, keypoints within half a pixel, masks
within 2e-3.
"""

from __future__ import annotations

import numpy as np

from inpage.postprocess import box_iou

SCORE_TOLERANCE = 1e-3
BOX_IOU = 0.99
KEYPOINT_PX = 0.5
MASK_TOLERANCE = 2e-3


def iou(a, b) -> float:
    return float(box_iou(np.asarray(a, np.float64), np.asarray([b], np.float64))[0])


def assert_detections_match(page_detections, native_detections, where=""):
    assert [d["label"] for d in page_detections] == [d.label for d in native_detections], where
    for ours, theirs in zip(page_detections, native_detections):
        assert iou(ours["box"], theirs.box) >= BOX_IOU, (where, ours, theirs)
        assert abs(ours["score"] - theirs.score) < SCORE_TOLERANCE, (where, ours, theirs)
        if theirs.keypoints is not None:
            np.testing.assert_allclose(ours["keypoints"], theirs.keypoints, atol=KEYPOINT_PX, err_msg=where)


def assert_same_result(task: str, page: dict, native, where: str = "") -> None:
    """``page`` (what ``inpage.call`` resolved to) gives what ``native`` (the Python result) gives."""
    if task == "detect":
        assert_detections_match(page["detections"], native, where)
    elif task == "classify":
        assert [p["index"] for p in page["predictions"]] == [p.index for p in native], where
        np.testing.assert_allclose([p["score"] for p in page["predictions"]], [p.score for p in native], atol=SCORE_TOLERANCE, err_msg=where)
    elif task == "pose":
        assert len(page["poses"]) == len(native), where
        for ours, theirs in zip(page["poses"], native):
            np.testing.assert_allclose([[k["x"], k["y"]] for k in ours["keypoints"]], [[k.x, k.y] for k in theirs.keypoints], atol=KEYPOINT_PX, err_msg=where)
            np.testing.assert_allclose([k["score"] for k in ours["keypoints"]], [k.score for k in theirs.keypoints], atol=SCORE_TOLERANCE, err_msg=where)
    elif task == "segment":
        mask = np.asarray(page["mask"]["data"], np.float32).reshape(page["mask"]["dims"])
        np.testing.assert_allclose(mask, native.mask, atol=MASK_TOLERANCE, err_msg=where)
        assert abs(page["coverage"] - native.coverage) < MASK_TOLERANCE and page["box"] == list(native.box), where
    else:
        raise AssertionError(f"no parity rule for task {task!r}")
