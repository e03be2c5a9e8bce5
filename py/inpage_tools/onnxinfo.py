"""What an ONNX file says about itself: inputs, outputs, opsets, ops, parameters, metadata, external data,
and whether onnxruntime-web's WASM build can run every op. Read with the ``onnx`` package, on CPython
only (``inpage inspect``, ``inpage add`` and the build use it; the page never does).

The op support table (``ort_web_ops.json``) was found by trial: every single-op test model that
ships with ``onnx`` was loaded and run in onnxruntime-web under Node (see ``build/ops/``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from inpage.errors import ProjectError
from inpage.specs import TensorSpec

# onnx's TensorProto element types -> the manifest's dtype names.
ELEMENT_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
    9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
}
ML_DOMAIN = "ai.onnx.ml"
# onnxruntime-web loads one model file of at most 2 GB (protobuf's limit) and the browser holds it
# in memory twice while the session is made; past this size inpage refuses to fold external data.
SINGLE_FILE_LIMIT = 2_000_000_000


@dataclass
class OpSupport:
    """Whether onnxruntime-web's WASM build runs an op: ``supported``, ``partial``, ``unsupported`` or ``unknown``."""

    domain: str
    op_type: str
    status: str
    detail: str = ""


@dataclass
class GraphInfo:
    """Everything ``inpage inspect`` shows about a model file."""

    path: Path
    file_size: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    output_kinds: dict[str, str]  # "tensor", "sequence", "map" (skl2onnx's ZipMap gives a sequence of maps)
    opsets: dict[str, int]
    ops: Counter
    parameters: int
    metadata: dict[str, str]
    producer: str
    external_data: list[str]
    final_ops: dict[str, str]  # output name -> the op that produces it
    zipmap_outputs: list[str] = field(default_factory=list)
    zipmap_labels: list[Any] | None = None
    # The classes of an ai.onnx.ml classifier, in the order of its probability columns (ZipMap's,
    # else the classifier node's classlabels_*); None where the graph has no such node.
    classifier_labels: list[Any] | None = None
    # The rows of the table a Gather looks token ids up in (a text model's word embeddings), by
    # graph input; a tokenizer with more tokens than that is not the model's.
    token_table_rows: dict[str, int] = field(default_factory=dict)

    @property
    def is_ml_graph(self) -> bool:
        return ML_DOMAIN in self.opsets or any(domain == ML_DOMAIN for domain, _op in self.ops)

    def op_support(self) -> list[OpSupport]:
        table = support_table()
        found = []
        for domain, op_type in sorted(self.ops):
            entry = table.get("ops", {}).get(domain or "ai.onnx", {}).get(op_type)
            if entry is None:
                found.append(OpSupport(domain or "ai.onnx", op_type, "unknown", "not covered by the probe"))
            else:
                detail = entry.get("reason", "")
                if entry.get("status") == "partial":
                    detail = "; ".join(f"{k}: {v}" for k, v in sorted(entry.get("failing", {}).items())[:3])
                found.append(OpSupport(domain or "ai.onnx", op_type, entry.get("status", "unknown"), detail))
        return found

    def unsupported_ops(self) -> list[OpSupport]:
        return [s for s in self.op_support() if s.status == "unsupported"]

    def as_json(self) -> dict:
        return {
            "file": str(self.path),
            "file_size": self.file_size,
            "producer": self.producer,
            "inputs": [t.as_json() for t in self.inputs],
            "outputs": [{**t.as_json(), "kind": self.output_kinds.get(t.name, "tensor"), "produced_by": self.final_ops.get(t.name)} for t in self.outputs],
            "opsets": self.opsets,
            "ops": {f"{d}:{o}" if d else o: n for (d, o), n in sorted(self.ops.items())},
            "parameters": self.parameters,
            "metadata": self.metadata,
            "external_data": self.external_data,
            "zipmap_outputs": self.zipmap_outputs,
            "onnxruntime_web_wasm": [s.__dict__ for s in self.op_support()],
        }


@lru_cache(maxsize=1)
def support_table() -> dict:
    path = Path(__file__).with_name("ort_web_ops.json")
    return json.loads(path.read_text()) if path.exists() else {}


def _dims(value_type) -> tuple[Any, ...] | None:
    tensor = value_type.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = []
    for dim in tensor.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value >= 0:
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or None)
    return tuple(dims)


def _value(value) -> tuple[TensorSpec, str]:
    value_type = value.type
    kind = value_type.WhichOneof("value")
    if kind == "tensor_type":
        return TensorSpec(value.name, ELEMENT_TYPES.get(value_type.tensor_type.elem_type, "unknown"), _dims(value_type)), "tensor"
    return TensorSpec(value.name, "non-tensor", None), "sequence" if kind == "sequence_type" else (kind or "unknown").replace("_type", "")


def _walk_nodes(graph):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.g and attribute.g.node:
                yield from _walk_nodes(attribute.g)
            for sub in attribute.graphs:
                yield from _walk_nodes(sub)


def load(path: Path, load_external: bool = False):
    """The ModelProto in ``path`` (external data left on disk unless asked for)."""
    import onnx

    try:
        return onnx.load(str(path), load_external_data=load_external)
    except Exception as exc:  # onnx raises DecodeError, OSError, ValidationError...
        raise ProjectError(f"{path} is not an ONNX model onnx can read: {' '.join(str(exc).split())[:300]}") from None


def inspect_model(path: Path, model=None) -> GraphInfo:
    """Read ``path`` (or an already loaded ModelProto) into a :class:`GraphInfo`."""
    from onnx import external_data_helper

    path = Path(path)
    model = model if model is not None else load(path)
    graph = model.graph
    initializer_names = {t.name for t in graph.initializer}
    inputs = [_value(v)[0] for v in graph.input if v.name not in initializer_names]
    outputs, kinds = [], {}
    for v in graph.output:
        spec, kind = _value(v)
        outputs.append(spec)
        kinds[v.name] = kind
    ops: Counter = Counter()
    producers: dict[str, Any] = {}
    for node in _walk_nodes(graph):
        ops[(node.domain, node.op_type)] += 1
    for node in graph.node:
        for output in node.output:
            producers[output] = node
    parameters = 0
    external = set()
    for tensor in graph.initializer:
        parameters += element_count(tensor)
        if external_data_helper.uses_external_data(tensor):
            location = next((e.value for e in tensor.external_data if e.key == "location"), None)
            if location:
                external.add(location)
    final_ops = {name: _final_op(name, producers) for name in [o.name for o in outputs]}
    zipmap = [name for name in kinds if producers.get(name) is not None and producers[name].op_type == "ZipMap"]
    zipmap_labels = next((zipmap_class_labels(producers[name]) for name in zipmap), None)
    classifiers = [zipmap_class_labels(node) for node in graph.node if node.domain == ML_DOMAIN and node.op_type.endswith("Classifier")]
    classifier_labels = zipmap_labels if zipmap_labels is not None else next((c for c in classifiers if c), None)
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    input_names = {i.name for i in inputs}
    token_table_rows = {node.input[1]: shapes[node.input[0]][0] for node in graph.node
                        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] in input_names
                        and shapes.get(node.input[0]) and not any(a.name == "axis" and a.i != 0 for a in node.attribute)}
    return GraphInfo(
        path=path,
        file_size=path.stat().st_size if path.exists() else model.ByteSize(),
        inputs=inputs,
        outputs=outputs,
        output_kinds=kinds,
        opsets={(entry.domain or "ai.onnx"): int(entry.version) for entry in model.opset_import},
        ops=ops,
        parameters=parameters,
        metadata={p.key: p.value for p in model.metadata_props},
        producer=" ".join(filter(None, [model.producer_name, model.producer_version])),
        external_data=sorted(external),
        final_ops=final_ops,
        zipmap_outputs=zipmap,
        zipmap_labels=zipmap_labels,
        classifier_labels=classifier_labels,
        token_table_rows=token_table_rows,
    )


def zipmap_class_labels(node) -> list:
    """The class labels a ZipMap (or an ai.onnx.ml classifier) node maps its probabilities to (ints or strings)."""
    for attribute in node.attribute:
        if attribute.name == "classlabels_int64s":
            return list(attribute.ints)
        if attribute.name == "classlabels_strings":
            return [s.decode() for s in attribute.strings]
    return []


def element_count(tensor) -> int:
    count = 1
    for dim in tensor.dims:
        count *= int(dim)
    return count


# Ops that only pass values through: an output is "produced by" the op before them.
_PASS_THROUGH = {"Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Cast", "Transpose"}


def _final_op(name: str, producers: dict) -> str | None:
    node = producers.get(name)
    seen = 0
    while node is not None and node.op_type in _PASS_THROUGH and seen < 16:
        node = producers.get(node.input[0]) if node.input else None
        seen += 1
    return node.op_type if node is not None else None
