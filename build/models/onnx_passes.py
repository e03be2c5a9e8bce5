"""ONNX graph passes shared by the model recipes in build/models/.

- fold_constants / tidy_graph: remove the shape arithmetic exporters leave
  behind and fuse zero padding into convolutions;
- store_weights_as_fp16: halve the file size, keeping float32 compute;
- save_model / describe: check, write and report a model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from recipe_common import sha256_file


def fold_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace every node whose inputs are all constants by an initializer.

    Exporters leave shape arithmetic in the graph (PyTorch's padding, TF's
    SparseToDense shape); some of it uses ops the usual folders skip, such as
    Slice with a negative step. Evaluating it once with onnx's reference
    runtime removes it whatever the op.
    """
    graph = model.graph
    constant = {init.name for init in graph.initializer}
    foldable = []
    for node in graph.node:  # nodes are in topological order
        if all(name in constant for name in node.input if name):
            foldable.append(node)
            constant.update(node.output)
    if not foldable:
        return model

    kept = [node for node in graph.node if node not in foldable]
    needed = {name for node in kept for name in node.input} | {out.name for out in graph.output}
    wanted = [name for node in foldable for name in node.output if name in needed]
    subgraph = helper.make_graph(
        foldable,
        "constants",
        inputs=[],
        outputs=[helper.make_value_info(name, onnx.TypeProto()) for name in wanted],
        initializer=graph.initializer,
    )
    values = ReferenceEvaluator(helper.make_model(subgraph, opset_imports=model.opset_import)).run(None, {})

    initializers = [init for init in graph.initializer if init.name in needed]
    initializers += [
        numpy_helper.from_array(np.asarray(value), name) for name, value in zip(wanted, values, strict=True)
    ]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return model


def tidy_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """Fold constants, fuse zero Pad into the next Conv, drop dead nodes and infer static shapes."""
    # Imported here so that fetch_blazeface.py, which tidies nothing, runs without onnxscript.
    from onnxscript import optimizer, rewriter

    model = fold_constants(model)
    # The default rewrite rules include Pad+Conv -> Conv(pads=...), which saves a
    # full copy of the activation per convolution in the browser.
    model = rewriter.rewrite(model)
    model = optimizer.optimize(model)
    return onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)


def store_weights_as_fp16(model: onnx.ModelProto, require_exact: bool = False) -> onnx.ModelProto:
    """Store float32 initializers as float16, each followed by a Cast back to float32.

    This halves the download while the graph still computes in float32, so
    inputs, outputs and every op stay as they were. Tensors under 64 values
    (scalars, Resize scales, Clip bounds) are left alone: they are not weights,
    and a Cast node would cost more than it saves. With require_exact,
    fail unless every weight survives the round trip unchanged (true when the
    source weights were float16 already).
    """
    graph = model.graph
    casts, initializers = [], []
    worst = 0.0
    for init in graph.initializer:
        values = numpy_helper.to_array(init)
        if init.data_type != onnx.TensorProto.FLOAT or values.size < 64:
            initializers.append(init)
            continue
        half = values.astype(np.float16)
        if not np.all(np.isfinite(half)):
            raise ValueError(f"{init.name} does not fit in float16")
        error = float(np.max(np.abs(half.astype(np.float32) - values)))
        if require_exact and error != 0.0:
            raise ValueError(f"{init.name} is not exactly representable in float16 (max error {error})")
        worst = max(worst, error)
        half_name = f"{init.name}_fp16"
        initializers.append(numpy_helper.from_array(half, half_name))
        casts.append(
            helper.make_node("Cast", [half_name], [init.name], name=f"{init.name}_to_fp32", to=onnx.TensorProto.FLOAT)
        )
    print(f"fp16 weights: {len(casts)} tensors, max abs rounding error {worst:.3g}")

    del graph.initializer[:]
    graph.initializer.extend(initializers)
    nodes = casts + list(graph.node)  # the Casts have no graph inputs, so first keeps topological order
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def save_model(model: onnx.ModelProto, path: Path) -> None:
    """Check, save and print the size and sha256 of the model."""
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, os.fspath(path))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    print(f"sha256 {sha256_file(path)}  {path.name}")


def describe(model: onnx.ModelProto) -> None:
    """Print the graph's inputs and outputs with dtype and shape."""
    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):
        for value in values:
            tensor = value.type.tensor_type
            shape = [dim.dim_value if dim.HasField("dim_value") else dim.dim_param for dim in tensor.shape.dim]
            dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type)
            print(f"  {kind:6} {value.name!r} {dtype} {shape}")
