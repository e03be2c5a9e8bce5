"""Generic inference, the escape hatch: named arrays in, named arrays out, for any model.

Example::

    model = await load_model("my-model")
    outputs = await model.run({"input_ids": ids, "attention_mask": mask})
    print(outputs["logits"].shape)

Every model can ``run``, whatever its task; a manifest entry with ``"task": "run"`` does nothing
else. Feeds are checked against the model's inputs before anything runs: every input named,
none unknown, the rank and static dimensions right, and values convertible to the input's dtype
without changing their kind (floats may narrow to float32, integers may not become floats of a
model that wants integers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from ..specs import NUMPY_TYPES, TensorSpec
from . import Task, register_task


def convert_feed(spec: TensorSpec, value: Any) -> np.ndarray:
    """``value`` as a C-contiguous array of ``spec``'s dtype and a shape it accepts, or an error naming the input."""
    if spec.dtype == "string":
        array = np.asarray(value, dtype=object)
    else:
        target = np.dtype(NUMPY_TYPES[spec.dtype])
        try:
            given = np.asarray(value)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"input {spec.name!r} must be an array of {spec.dtype}, not {type(value).__name__}") from None
        if given.dtype == object or given.dtype.kind in "USV":
            raise InvalidArgumentError(f"input {spec.name!r} must be an array of {spec.dtype}, not {given.dtype}")
        if given.dtype != target and not np.can_cast(given.dtype, target, casting="same_kind") and not (
            given.dtype.kind in "iub" and target.kind in "iu"  # Python ints arrive as int64
        ):
            raise InvalidArgumentError(f"input {spec.name!r} takes {spec.dtype}, not {given.dtype}")
        if target.kind in "iu" and given.dtype.kind in "iu" and given.size and not np.can_cast(given.dtype, target, casting="safe"):
            # Narrowing integers wraps around silently (300 -> 44 in uint8): only values that fit may pass.
            low, high = np.iinfo(target).min, np.iinfo(target).max
            smallest, largest = given.min(), given.max()
            if smallest < low or largest > high:
                bad = smallest if smallest < low else largest
                raise InvalidArgumentError(f"input {spec.name!r} takes {spec.dtype} ({low}..{high}); {int(bad)} does not fit")
        array = np.ascontiguousarray(given, dtype=target)
    if spec.shape is not None:
        if array.ndim != len(spec.shape):
            raise InvalidArgumentError(f"input {spec.name!r} must have {len(spec.shape)} dimensions {spec.describe()}, not shape {list(array.shape)}")
        for axis, (want, got) in enumerate(zip(spec.shape, array.shape)):
            if isinstance(want, int) and want != got:
                raise InvalidArgumentError(f"input {spec.name!r} must have shape {spec.describe()}, not {list(array.shape)} (axis {axis})")
    return array


def convert_feeds(inputs: tuple[TensorSpec, ...], feeds: Any) -> dict[str, np.ndarray]:
    if not isinstance(feeds, dict):
        raise InvalidArgumentError(f"feeds must be a dict of input name -> array, not {type(feeds).__name__}")
    names = [spec.name for spec in inputs]
    unknown = sorted(set(feeds) - set(names))
    missing = [name for name in names if name not in feeds]
    if unknown:
        raise InvalidArgumentError(f"unknown input(s) {', '.join(map(repr, unknown))}; the model's inputs are {', '.join(map(repr, names))}")
    if missing:
        raise InvalidArgumentError(f"missing input(s) {', '.join(map(repr, missing))}; the model's inputs are {', '.join(map(repr, names))}")
    return {spec.name: convert_feed(spec, feeds[spec.name]) for spec in inputs}


@register_task
class Run(Task):
    name = "run"
    method = "run"
    input_kind = "tensors"
    cli_help = "run any model on named .npy arrays: every output"

    @classmethod
    def plan(cls, model):
        return {}  # named tensors in and out: nothing to configure

    def split(self, sample):
        return None  # feeds carry their own batch dimension

    def prepare(self, sample, options, slot=0, batch=1):
        return convert_feeds(self.spec.inputs, sample), None

    def finish(self, outputs, context, options):
        # Copies: the page's session reuses its output buffers on the next run.
        return {name: np.array(value, copy=True) for name, value in outputs.items()}

    def payload(self, result):
        return {"outputs": result}

    def describe(self, result):
        lines = []
        for name, value in result.items():
            head = np.array2string(value.reshape(-1)[:8], precision=4)
            lines.append(f"{name}: {value.dtype} {list(value.shape)}  {head}{' ...' if value.size > 8 else ''}")
        return lines
