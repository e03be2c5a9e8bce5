"""Find out by trial which ONNX operators onnxruntime-web's WASM build can run, and write py/inpage_tools/ort_web_ops.json.

Run it from the repository root, in a virtual environment of its own (see build/ops/README.md):

    /tmp/opsenv/bin/python build/ops/probe_ort_web_ops.py

The cases:

- the single-operator node tests that ship inside the `onnx` wheel: each is one op at one opset
  with one set of dtypes, with test_data_set_0 inputs and expected outputs;
- variants of one node test per operator, retyped to other element types (float16, double,
  the integer types, bool) and restamped to the operator's older opset versions, where the
  schema allows it; native onnxruntime's outputs are their expected outputs;
- small graphs that keep sequences, optionals and exotic element types (bfloat16, float8,
  int4, ...) inside the graph, because the JS API cannot pass them in or out, plus random and
  rarely tested operators;
- a few scikit-learn models converted with skl2onnx, for the `ai.onnx.ml` operators users bring.

Every case runs in Node with onnxruntime-web (wasm backend, one thread, probe_ort_web_ops.mjs)
and in native onnxruntime (CPU), each in worker processes that are restarted after a crash or
a hang. Native onnxruntime is the yardstick: a test that fails natively says something about
the test or about onnxruntime, not about the web build. Failures that come from the JS API
itself (a graph input or output that is a sequence, a map, an optional or of an element type
ort.Tensor lacks) are reported apart, in "io_limits", and do not count against operators.
"""

from __future__ import annotations

import argparse
import base64
import collections
import copy
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
NODE_SCRIPT = Path(__file__).with_name("probe_ort_web_ops.mjs")
DEFAULT_OUT = ROOT / "py" / "inpage" / "ort_web_ops.json"

# onnx 1.21's node tests default to its newest opset, 26, which is also the newest that native
# onnxruntime 1.31 and onnxruntime-web 1.30 load; the 1.23 wheel no longer ships the test data.
ONNX_VERSION = "1.21.0"
ORT_NATIVE_VERSION = "1.31.1"
ORT_WEB_VERSION = "1.30.0"
NEWEST_OPSET = 26

MARK = "@@PROBE "
# probe_ort_web_ops.mjs exits with this after a WebAssembly trap, having reported the case: restart, blame nobody.
RESTART_EXIT = 3
CASE_TIMEOUT_S = 60.0
# Fresh worker processes now and then keep one case's leaked memory from skewing later ones.
BATCH = 250

# Element types the variants try; the schema decides which apply to an operator.
VARIANT_TYPES = [
    TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE,
    TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64,
    TensorProto.UINT32, TensorProto.UINT64, TensorProto.BOOL,
]
# Operators whose attributes hold subgraphs: retyping them would mean retyping the bodies too.
NO_VARIANTS = {"If", "Loop", "Scan", "SequenceMap"}
# Node tests that probe an edge case (empty input, NaN, a type-specific rule) make poor bases for variants.
EDGE_CASE = re.compile(r"empty|nan|inf|zero|uint|int8|int16|int32|int64|bool|float16|double|bfloat|string|fp16")
# Their outputs are random: only shapes can be compared.
RANDOM_OPS = {"Bernoulli", "Multinomial", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"}
# ONNX opsets older than this predate onnxruntime's support.
OLDEST_OPSET = 7

# onnxruntime-web's Tensor types, by ONNX element type; the rest cannot cross the JS API.
WEB_TYPES = {
    TensorProto.FLOAT: "float32",
    TensorProto.DOUBLE: "float64",
    TensorProto.FLOAT16: "float16",
    TensorProto.INT8: "int8",
    TensorProto.UINT8: "uint8",
    TensorProto.INT16: "int16",
    TensorProto.UINT16: "uint16",
    TensorProto.INT32: "int32",
    TensorProto.UINT32: "uint32",
    TensorProto.INT64: "int64",
    TensorProto.UINT64: "uint64",
    TensorProto.BOOL: "bool",
    TensorProto.STRING: "string",
    TensorProto.INT4: "int4",
    TensorProto.UINT4: "uint4",
}
WEB_NUMPY = {
    "float32": np.float32,
    "float64": np.float64,
    "float16": np.uint16,  # raw bits; viewed as float16 after decoding
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "bool": np.uint8,
    "int4": np.uint8,  # packed two to a byte, low nibble first, as in TensorProto raw_data
    "uint4": np.uint8,
}

# How far a runtime gets on one test. The web build passes a test when it gets at least as far as
# native onnxruntime, or when it matches the onnx test's own expected outputs.
SESSION_FAILED, RUN_FAILED, MISMATCH, MATCH = 0, 1, 2, 3

# How onnxruntime (native and web alike) says that no kernel matches a node: the first form when
# no kernel is registered for the node's version, the second when kernels are, but none fits its types.
NO_KERNEL = re.compile(r"(?:Could not find an implementation for|Failed to find kernel for) (\S+?)\((\d+)\)")
# A kernel that exists but refuses the node's types when it runs (LSTM and GRU with double) says NOT_IMPLEMENTED, code 9.
NOT_IMPLEMENTED = re.compile(r"ERROR_CODE: 9\b|: 9 : NOT_IMPLEMENTED")
# How onnxruntime-web's JS layer refuses values it has no Tensor for (see io_limits in the output).
IO_ERRORS = [
    ("non_tensor_output", re.compile(r"Reading data from non-tensor typed value is not supported")),
    ("element_type_in_graph_io", re.compile(r"^unsupported data type: \d+")),
    ("element_type_of_output", re.compile(r"^unsupported type: \w+")),
    ("non_tensor_or_exotic_input", re.compile(r"which onnxruntime-web's Tensor cannot hold")),
]


def dtype_name(elem_type: int) -> str:
    return TensorProto.DataType.Name(elem_type).lower()


def type_name(type_proto: onnx.TypeProto) -> str:
    """Short, stable spelling of a value's type: float, int64, seq(float), optional(seq(int64)), map(string,int64)."""
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return dtype_name(type_proto.tensor_type.elem_type)
    if kind == "sequence_type":
        return f"seq({type_name(type_proto.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_name(type_proto.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({dtype_name(type_proto.map_type.key_type)},{type_name(type_proto.map_type.value_type)})"
    return str(kind)


def domain_name(domain: str) -> str:
    return "ai.onnx" if domain in ("", "ai.onnx") else domain


@dataclass
class Case:
    name: str
    source: str  # onnx, variant, synthetic, skl2onnx
    model: Path
    data: Path  # test_data_set_0
    ops: list[tuple[str, str, int]]  # (domain, op_type, since_version) this case gives evidence about
    dtypes: list[str]  # the element types the case is about (see value_dtypes)
    reference: str = "files"  # "files": expected outputs are in `data`; "native": native onnxruntime writes them there
    shape_only: bool = False  # random operators: only shapes can be compared
    result: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Collecting cases


def op_entries(model: onnx.ModelProto, domains: set[str] | None = None) -> list[tuple[str, str, int]]:
    """The (domain, op_type, since_version) of the main graph's nodes; since_version comes from the schema at the model's opset."""
    opsets = {domain_name(o.domain): o.version for o in model.opset_import}
    found = set()
    for node in model.graph.node:
        domain = domain_name(node.domain)
        if domains is not None and domain not in domains:
            continue
        try:
            since = onnx.defs.get_schema(node.op_type, opsets.get(domain, 1), "" if domain == "ai.onnx" else domain).since_version
        except onnx.defs.SchemaError:
            since = opsets.get(domain, 0)
        found.add((domain, node.op_type, since))
    return sorted(found)


def data_param(schema, node: onnx.NodeProto) -> tuple[str | None, list, list]:
    """The type parameter that carries a node's data, with the type strings of its actual inputs and outputs.

    That is the first output's parameter when inputs share it (Where's T, not its condition's B),
    else the first input's (Cast's T1, ArgMax's T).
    """
    in_strs = formal_type_strs(schema.inputs, len(node.input))
    out_strs = formal_type_strs(schema.outputs, len(node.output))
    constraints = {c.type_param_str for c in schema.type_constraints}
    param = out_strs[0] if out_strs and out_strs[0] in constraints and out_strs[0] in in_strs else None
    param = param or (in_strs[0] if in_strs and in_strs[0] in constraints else None)
    return param, in_strs, out_strs


def value_dtypes(model: onnx.ModelProto) -> list[str]:
    """The element types a test is about: for one node, those of its data inputs; else those of all graph inputs."""
    types = {v.name: type_name(v.type) for v in list(model.graph.input) + list(model.graph.output)}
    if len(model.graph.node) == 1:
        node = model.graph.node[0]
        domain = domain_name(node.domain)
        opset = next((o.version for o in model.opset_import if domain_name(o.domain) == domain), 1)
        try:
            schema = onnx.defs.get_schema(node.op_type, opset, "" if domain == "ai.onnx" else domain)
        except onnx.defs.SchemaError:
            schema = None
        if schema is not None:
            param, in_strs, out_strs = data_param(schema, node)
            bound = [n for n, t in list(zip(node.input, in_strs)) + list(zip(node.output, out_strs)) if t == param and n]
            if found := sorted({types[n] for n in bound if n in types}):
                return found
    values = list(model.graph.input) or list(model.graph.output)
    return sorted({type_name(v.type) for v in values})


def tensor_io_only(model: onnx.ModelProto) -> bool:
    return all(v.type.HasField("tensor_type") for v in list(model.graph.input) + list(model.graph.output))


def onnx_node_cases() -> list[Case]:
    root = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
    if not root.is_dir():
        sys.exit(f"{root} is missing: onnx {onnx.__version__} does not ship its node test data; install onnx=={ONNX_VERSION}")
    cases = []
    for test in sorted(p for p in root.iterdir() if (p / "model.onnx").is_file()):
        # An *_expanded test runs an operator's function body, i.e. other operators, which have tests of their own.
        if "_expanded" in test.name:
            continue
        model = onnx.load(test / "model.onnx")
        ops = op_entries(model)
        cases.append(Case(test.name, "onnx", test / "model.onnx", test / "test_data_set_0", ops, value_dtypes(model),
                          shape_only=any(op in RANDOM_OPS for _, op, _ in ops)))
    return cases


def save_case(folder: Path, model: onnx.ModelProto, inputs: list[np.ndarray | TensorProto]) -> Path:
    data = folder / "test_data_set_0"
    data.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    for j, (value, info) in enumerate(zip(inputs, model.graph.input)):
        proto = value if isinstance(value, TensorProto) else numpy_helper.from_array(np.asarray(value), info.name)
        proto.name = info.name
        (data / f"input_{j}.pb").write_bytes(proto.SerializeToString())
    return data


def convert_array(array: np.ndarray, elem_type: int) -> np.ndarray:
    """A test input recast to another element type, keeping values an integer kernel can take (no zero divisors)."""
    target = helper.tensor_dtype_to_np_dtype(elem_type)
    if elem_type == TensorProto.BOOL:
        return array > 0 if array.dtype.kind == "f" else array != 0
    if np.issubdtype(target, np.integer):
        values = np.round(array.astype(np.float64) * 3) if array.dtype.kind == "f" else array.astype(np.int64)
        values = np.where(values == 0, 1, values)
        if np.issubdtype(target, np.unsignedinteger):
            values = np.abs(values)
        info = np.iinfo(target)
        return np.clip(values, info.min, info.max).astype(target)
    return array.astype(target)


def formal_type_strs(params, count: int) -> list[str | None]:
    """The type string (e.g. "T") of each of `count` actual inputs or outputs, following variadic parameters."""
    out = []
    for i in range(count):
        if i < len(params):
            out.append(params[i].type_str)
        elif params and params[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic:
            out.append(params[-1].type_str)
        else:
            out.append(None)
    return out


def variant_cases(node_cases: list[Case], work: Path) -> list[Case]:
    """Each ai.onnx operator's simplest node test, retyped to the other element types and restamped to its older opset versions."""
    by_op: dict[str, list[Case]] = collections.defaultdict(list)
    for case in node_cases:
        if len(case.ops) == 1 and case.ops[0][0] == "ai.onnx" and case.ops[0][1] not in NO_VARIANTS:
            by_op[case.ops[0][1]].append(case)
    history: dict[str, set[int]] = collections.defaultdict(set)
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain == "":
            history[schema.name].add(schema.since_version)

    cases = []
    for op_type, op_cases in sorted(by_op.items()):
        candidates = []
        for case in op_cases:
            model = onnx.load(case.model)
            if len(model.graph.node) == 1 and tensor_io_only(model) and not model.graph.initializer:
                # Prefer a test whose values all cross the JS API, so that its variants can too.
                exotic = any(v.type.tensor_type.elem_type not in WEB_TYPES
                             or v.type.tensor_type.elem_type in (TensorProto.INT4, TensorProto.UINT4)
                             for v in list(model.graph.input) + list(model.graph.output))
                edge = bool(EDGE_CASE.search(case.name.removeprefix("test_")))
                candidates.append((exotic, edge, len(case.name), case.name, case, model))
        if not candidates:
            continue
        *_, base, model = min(candidates, key=lambda c: c[:4])
        shape_only = op_type in RANDOM_OPS
        inputs = {name: proto for name, _, proto in load_values(model, base.data, "input")}

        def add(name: str, variant: onnx.ModelProto, values: list) -> None:
            data = save_case(work / "variants" / name, variant, values)
            cases.append(Case(name, "variant", work / "variants" / name / "model.onnx", data,
                              op_entries(variant), value_dtypes(variant), reference="native", shape_only=shape_only))

        # Restamp: the same node at the opsets where the operator's older versions begin, since
        # onnxruntime registers kernels (and their types) per version range.
        own = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        stamps = [(own, "", model)]
        covered = {c.ops[0][2] for c in op_cases}
        for since in sorted(history[op_type]):
            # A version older than onnxruntime's oldest opset is still the one that opset uses, if no newer one began in between.
            stamp = max(since, OLDEST_OPSET)
            if since == onnx.defs.get_schema(op_type, own, "").since_version:
                continue
            if onnx.defs.get_schema(op_type, stamp, "").since_version != since:
                continue
            variant = copy.deepcopy(model)
            for o in variant.opset_import:
                if o.domain in ("", "ai.onnx"):
                    o.version = stamp
            try:
                onnx.checker.check_model(variant, full_check=True)
            except Exception:  # noqa: BLE001 - the node's inputs or attributes do not fit the older version
                continue
            stamps.append((stamp, f"__opset{stamp}", variant))
            if since not in covered:
                add(f"{base.name}__opset{stamp}", variant, [inputs[i.name] for i in variant.graph.input])

        # Retype every graph input and output bound to the data's type parameter.
        for opset, suffix, stamped in stamps:
            node = stamped.graph.node[0]
            schema = onnx.defs.get_schema(op_type, opset, "")
            constraints = {c.type_param_str: c.allowed_type_strs for c in schema.type_constraints}
            param, in_strs, out_strs = data_param(schema, node)
            if param is None:
                continue
            bound_in = {n for n, t in zip(node.input, in_strs) if t == param and n}
            bound_out = {n for n, t in zip(node.output, out_strs) if t == param and n}
            original = next((v.type.tensor_type.elem_type for v in stamped.graph.input if v.name in bound_in), None)
            if original is None:
                continue
            for elem_type in VARIANT_TYPES:
                if elem_type == original or f"tensor({dtype_name(elem_type)})" not in constraints[param]:
                    continue
                variant = copy.deepcopy(stamped)
                target = helper.tensor_dtype_to_np_dtype(elem_type)
                integral = elem_type == TensorProto.BOOL or np.issubdtype(target, np.integer)
                lowest = 0 if elem_type == TensorProto.BOOL or np.issubdtype(target, np.unsignedinteger) else -100
                values = []
                for info in variant.graph.input:
                    array = numpy_helper.to_array(inputs[info.name])
                    if integral and array.dtype.kind == "f":
                        # NaN, infinity or a float out of the integer type's range turned into an integer is
                        # undefined behaviour in C++, which x86 and WebAssembly resolve differently: keep to
                        # small finite values within range.
                        array = np.clip(np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=-1.0), lowest, 100).astype(array.dtype)
                    if info.name in bound_in:
                        info.type.tensor_type.elem_type = elem_type
                        array = convert_array(array, elem_type)
                    values.append(array)
                for info in variant.graph.output:
                    if info.name in bound_out:
                        info.type.tensor_type.elem_type = elem_type
                try:
                    onnx.checker.check_model(variant, full_check=True)
                except Exception:  # noqa: BLE001 - the schema or shape inference rejects this variant
                    continue
                add(f"{base.name}{suffix}__as_{dtype_name(elem_type)}", variant, values)
    return cases


def synthetic_cases(work: Path) -> list[Case]:
    """Graphs with tensor inputs and outputs that use what the node tests can only reach through the JS API's blind spots."""
    f32 = TensorProto.FLOAT
    rng = np.random.default_rng(0)
    x23 = rng.standard_normal((2, 3)).astype(np.float32)
    y23 = rng.standard_normal((2, 3)).astype(np.float32)

    def tensor(name, elem_type, shape):
        return helper.make_tensor_value_info(name, elem_type, shape)

    def const(name, array):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(array), name))

    recipes = []  # (name, nodes, inputs [(info, value)], outputs, opsets, ops of interest, shape_only)

    def add(name, nodes, inputs, outputs, ops, opset=NEWEST_OPSET, ml=None, shape_only=False, inner=None):
        # `inner`: an element type the graph uses inside only, which is the point of the case.
        recipes.append((name, nodes, inputs, outputs, ops, opset, ml, shape_only, inner))

    add("synthetic_sequence_construct_at",
        [const("i", np.int64(1)), helper.make_node("SequenceConstruct", ["a", "b"], ["s"]),
         helper.make_node("SequenceAt", ["s", "i"], ["y"])],
        [(tensor("a", f32, [2, 3]), x23), (tensor("b", f32, [2, 3]), y23)], [tensor("y", f32, None)],
        ["SequenceConstruct", "SequenceAt"])
    add("synthetic_sequence_empty_insert_erase_length_concat",
        [const("p", np.int64(0)),
         helper.make_node("SequenceEmpty", [], ["s0"], dtype=f32),
         helper.make_node("SequenceInsert", ["s0", "a"], ["s1"]),
         helper.make_node("SequenceInsert", ["s1", "b"], ["s2"]),
         helper.make_node("SequenceErase", ["s2", "p"], ["s3"]),
         helper.make_node("SequenceLength", ["s3"], ["n"]),
         helper.make_node("ConcatFromSequence", ["s2"], ["y"], axis=0)],
        [(tensor("a", f32, [2, 3]), x23), (tensor("b", f32, [2, 3]), y23)],
        [tensor("y", f32, None), tensor("n", TensorProto.INT64, None)],
        ["SequenceEmpty", "SequenceInsert", "SequenceErase", "SequenceLength", "ConcatFromSequence"])
    add("synthetic_split_to_sequence_concat",
        [helper.make_node("SplitToSequence", ["a"], ["s"], axis=1, keepdims=0),
         helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0, new_axis=1)],
        [(tensor("a", f32, [2, 3]), x23)], [tensor("y", f32, None)], ["SplitToSequence", "ConcatFromSequence"])
    body = helper.make_graph([helper.make_node("Add", ["e", "e"], ["o"])], "double",
                             [tensor("e", f32, None)], [tensor("o", f32, None)])
    add("synthetic_sequence_map",
        [helper.make_node("SplitToSequence", ["a"], ["s"], axis=0),
         helper.make_node("SequenceMap", ["s"], ["t"], body=body),
         helper.make_node("ConcatFromSequence", ["t"], ["y"], axis=0)],
        [(tensor("a", f32, [2, 3]), x23)], [tensor("y", f32, None)], ["SequenceMap"])
    add("synthetic_optional",
        [helper.make_node("Optional", ["a"], ["o"]),
         helper.make_node("OptionalHasElement", ["o"], ["has"]),
         helper.make_node("OptionalGetElement", ["o"], ["y"])],
        [(tensor("a", f32, [2, 3]), x23)], [tensor("y", f32, None), tensor("has", TensorProto.BOOL, None)],
        ["Optional", "OptionalHasElement", "OptionalGetElement"])
    # Version 22 of these pooling operators added types; try both sides of it.
    pool_in = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    for opset in (21, NEWEST_OPSET):
        add(f"synthetic_global_lp_pool_opset{opset}", [helper.make_node("GlobalLpPool", ["a"], ["y"], p=2)],
            [(tensor("a", f32, [1, 2, 6, 6]), pool_in)], [tensor("y", f32, None)], ["GlobalLpPool"], opset)
        add(f"synthetic_max_roi_pool_opset{opset}", [helper.make_node("MaxRoiPool", ["a", "r"], ["y"], pooled_shape=[2, 2])],
            [(tensor("a", f32, [1, 2, 6, 6]), pool_in), (tensor("r", f32, [1, 5]), np.array([[0, 0, 0, 3, 3]], np.float32))],
            [tensor("y", f32, None)], ["MaxRoiPool"], opset)

    # Random operators: their version 22 added types; try both sides of it. Only shapes can be compared.
    probs = rng.uniform(size=(2, 4)).astype(np.float32)
    for opset in (21, NEWEST_OPSET):
        add(f"synthetic_random_normal_opset{opset}", [helper.make_node("RandomNormal", [], ["y"], shape=[2, 3], seed=1.0)],
            [], [tensor("y", f32, None)], ["RandomNormal"], opset, shape_only=True)
        add(f"synthetic_random_uniform_opset{opset}", [helper.make_node("RandomUniform", [], ["y"], shape=[2, 3], seed=1.0)],
            [], [tensor("y", f32, None)], ["RandomUniform"], opset, shape_only=True)
        add(f"synthetic_random_normal_like_opset{opset}", [helper.make_node("RandomNormalLike", ["a"], ["y"], seed=1.0)],
            [(tensor("a", f32, [2, 3]), x23)], [tensor("y", f32, None)], ["RandomNormalLike"], opset, shape_only=True)
        add(f"synthetic_random_uniform_like_opset{opset}", [helper.make_node("RandomUniformLike", ["a"], ["y"], seed=1.0)],
            [(tensor("a", f32, [2, 3]), x23)], [tensor("y", f32, None)], ["RandomUniformLike"], opset, shape_only=True)
        add(f"synthetic_bernoulli_opset{opset}", [helper.make_node("Bernoulli", ["a"], ["y"], seed=1.0)],
            [(tensor("a", f32, [2, 4]), probs)], [tensor("y", f32, None)], ["Bernoulli"], opset, shape_only=True)
        add(f"synthetic_multinomial_opset{opset}",
            [helper.make_node("Multinomial", ["a"], ["y"], sample_size=3, seed=1.0)],
            [(tensor("a", f32, [2, 4]), np.log(probs))], [tensor("y", TensorProto.INT32, None)], ["Multinomial"], opset,
            shape_only=True)

    # Element types that ort.Tensor lacks, kept inside the graph: do the kernels exist?
    exotic = [TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2,
              TensorProto.FLOAT8E5M2FNUZ, TensorProto.FLOAT8E8M0, TensorProto.FLOAT4E2M1, TensorProto.INT4,
              TensorProto.UINT4, TensorProto.INT2, TensorProto.UINT2]
    for elem_type in exotic:
        add(f"synthetic_cast_roundtrip_{dtype_name(elem_type)}",
            [helper.make_node("Cast", ["a"], ["c"], to=elem_type), helper.make_node("Cast", ["c"], ["y"], to=f32)],
            [(tensor("a", f32, [2, 3]), x23)], [tensor("y", f32, None)], ["Cast"], inner=dtype_name(elem_type))
    for elem_type in exotic[1:] + [TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16]:
        if elem_type == TensorProto.FLOAT8E8M0:
            continue  # not a QuantizeLinear output type
        zero = np.zeros((), helper.tensor_dtype_to_np_dtype(elem_type))
        add(f"synthetic_qdq_roundtrip_{dtype_name(elem_type)}",
            [const("scale", np.float32(0.05)),
             helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(zero, "zero")),
             helper.make_node("QuantizeLinear", ["a", "scale", "zero"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["y"])],
            [(tensor("a", f32, [2, 3]), x23)], [tensor("y", f32, None)], ["QuantizeLinear", "DequantizeLinear"],
            inner=dtype_name(elem_type))

    # ai.onnx.ml operators without node tests that take tensors.
    add("synthetic_ml_category_mapper_string_to_int",
        [helper.make_node("CategoryMapper", ["a"], ["y"], domain="ai.onnx.ml", cats_strings=["cat", "dog", "owl"],
                          cats_int64s=[1, 2, 3], default_int64=-1)],
        [(tensor("a", TensorProto.STRING, [4]), np.array(["dog", "owl", "cow", "cat"], dtype=object))],
        [tensor("y", TensorProto.INT64, None)], ["CategoryMapper"], ml=1)
    add("synthetic_ml_category_mapper_int_to_string",
        [helper.make_node("CategoryMapper", ["a"], ["y"], domain="ai.onnx.ml", cats_strings=["cat", "dog", "owl"],
                          cats_int64s=[1, 2, 3], default_string="?")],
        [(tensor("a", TensorProto.INT64, [4]), np.array([2, 3, 9, 1], np.int64))],
        [tensor("y", TensorProto.STRING, None)], ["CategoryMapper"], ml=1)
    add("synthetic_ml_feature_vectorizer",
        [helper.make_node("FeatureVectorizer", ["a", "b"], ["y"], domain="ai.onnx.ml", inputdimensions=[3, 3])],
        [(tensor("a", f32, [2, 3]), x23), (tensor("b", f32, [2, 3]), y23)], [tensor("y", f32, None)],
        ["FeatureVectorizer"], ml=1)

    cases = []
    for name, nodes, inputs, outputs, ops, opset, ml, shape_only, inner in recipes:
        opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("ai.onnx.ml", ml)] if ml else [])
        graph = helper.make_graph(nodes, name, [info for info, _ in inputs], outputs)
        model = helper.make_model(graph, opset_imports=opsets, ir_version=10)
        folder = work / "synthetic" / name
        data = save_case(folder, model, [value for _, value in inputs])
        entries = [e for e in op_entries(model) if e[1] in ops]
        dtypes = sorted(set(value_dtypes(model) or ["float"]) | ({inner} if inner else set()))
        cases.append(Case(name, "synthetic", folder / "model.onnx", data, entries, dtypes,
                          reference="native", shape_only=shape_only))
    return cases


def skl2onnx_cases(work: Path) -> list[Case]:
    """Small scikit-learn models in the shapes users export them, with scikit-learn's own predictions as the expected outputs."""
    try:
        import warnings

        from skl2onnx import to_onnx
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LinearRegression, LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import Normalizer, OneHotEncoder, StandardScaler
        from sklearn.svm import SVC, SVR
    except ImportError as exc:
        print(f"skipping the skl2onnx models: {exc}", file=sys.stderr)
        return []
    warnings.filterwarnings("ignore")

    iris = load_iris()
    x = iris.data.astype(np.float32)
    y = iris.target.astype(np.int64)
    x_test = x[::8]  # 19 rows from all three classes
    x_missing = x_test.copy()
    x_missing[::3, 1] = np.nan
    cats = (x[:, :2] * 2).astype(np.int64)
    cats_test = cats[::8]

    def classifier(m):
        return [m.predict(x_test).astype(np.int64), m.predict_proba(x_test).astype(np.float32)]

    def column(fn):
        return lambda m: [fn(m).astype(np.float32).reshape(-1, 1)]

    # (name, estimator, fit X, fit y, input, expected outputs, disable ZipMap)
    recipes = [
        ("skl_scaler_random_forest_classifier",
         make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0)),
         x, y, x_test, classifier, True),
        ("skl_logistic_regression", LogisticRegression(max_iter=500), x, y, x_test, classifier, True),
        ("skl_random_forest_regressor", RandomForestRegressor(n_estimators=8, max_depth=4, random_state=0),
         x[:, 1:], x[:, 0], x_test[:, 1:], column(lambda m: m.predict(x_test[:, 1:])), False),
        ("skl_linear_regression", LinearRegression(), x[:, 1:], x[:, 0], x_test[:, 1:],
         column(lambda m: m.predict(x_test[:, 1:])), False),
        ("skl_svc", SVC(), x, y, x_test,
         lambda m: [m.predict(x_test).astype(np.int64), m.decision_function(x_test).astype(np.float32)], True),
        ("skl_svr", SVR(), x[:, 1:], x[:, 0], x_test[:, 1:], column(lambda m: m.predict(x_test[:, 1:])), False),
        ("skl_normalizer", Normalizer(), x, None, x_test, lambda m: [m.transform(x_test).astype(np.float32)], False),
        ("skl_simple_imputer", SimpleImputer(), x, None, x_missing,
         lambda m: [m.transform(x_missing).astype(np.float32)], False),
        ("skl_one_hot_encoder", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), cats, None, cats_test,
         lambda m: [m.transform(cats_test).astype(np.float32)], False),
        # skl2onnx's default for classifiers: ZipMap turns the probabilities into a sequence of maps.
        ("skl_random_forest_classifier_zipmap", RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0),
         x, y, x_test, lambda m: [m.predict(x_test).astype(np.int64),
                                  [{int(k): float(p) for k, p in enumerate(row)} for row in m.predict_proba(x_test)]], False),
    ]
    cases = []
    for name, est, fit_x, fit_y, inp, expected, no_zipmap in recipes:
        est.fit(fit_x, fit_y) if fit_y is not None else est.fit(fit_x)
        last = est.steps[-1][1] if hasattr(est, "steps") else est
        model = to_onnx(est, inp[:1], options={id(last): {"zipmap": False}} if no_zipmap else None)
        folder = work / "skl2onnx" / name
        data = save_case(folder, model, [inp])
        for j, (value, info) in enumerate(zip(expected(est), model.graph.output)):
            if info.type.HasField("sequence_type"):
                proto = numpy_helper.from_list(value, info.name)
            else:
                proto = numpy_helper.from_array(np.asarray(value), info.name)
            (data / f"output_{j}.pb").write_bytes(proto.SerializeToString())
        # Their ai.onnx helper nodes (Cast, Identity, ...) have node tests of their own. The ZipMap
        # model is there for ZipMap alone: its classifier is covered by the other models.
        entries = op_entries(model, {"ai.onnx.ml"})
        if name.endswith("_zipmap"):
            entries = [e for e in entries if e[1] == "ZipMap"]
        cases.append(Case(name, "skl2onnx", folder / "model.onnx", data, entries, value_dtypes(model)))
    return cases


# ---------------------------------------------------------------------------------------------
# Test data


def load_values(model: onnx.ModelProto, data: Path, kind: str) -> list[tuple[str, onnx.TypeProto, object]]:
    """The data set's input_j.pb / output_j.pb files, as (name, declared type, proto), in graph order."""
    infos = model.graph.input if kind == "input" else model.graph.output
    values = []
    for j, info in enumerate(infos):
        path = data / f"{kind}_{j}.pb"
        if not path.exists():
            break
        proto = {"sequence_type": onnx.SequenceProto, "optional_type": onnx.OptionalProto, "map_type": onnx.MapProto}.get(
            info.type.WhichOneof("value"), TensorProto
        )()
        proto.ParseFromString(path.read_bytes())
        values.append((info.name, info.type, proto))
    return values


def to_python(proto):
    if isinstance(proto, TensorProto):
        return numpy_helper.to_array(proto)
    if isinstance(proto, onnx.SequenceProto):
        return numpy_helper.to_list(proto)
    if isinstance(proto, onnx.OptionalProto):
        return numpy_helper.to_optional(proto)
    return numpy_helper.to_dict(proto)


def pack4(values: np.ndarray) -> bytes:
    flat = values.astype(np.int16).ravel() & 0xF
    if flat.size % 2:
        flat = np.append(flat, 0)
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()


def unpack4(raw: np.ndarray, size: int, signed: bool) -> np.ndarray:
    nibbles = np.stack([raw & 0xF, raw >> 4], axis=1).ravel()[:size].astype(np.int8)
    return np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8) if signed else nibbles.astype(np.uint8)


def web_inputs(case: Case, model: onnx.ModelProto) -> list[dict]:
    """The case's inputs in the form probe_ort_web_ops.mjs turns into ort.Tensor objects."""
    specs = []
    for name, type_proto, proto in load_values(model, case.data, "input"):
        spec = {"name": name, "onnx_type": type_name(type_proto), "type": None}
        if isinstance(proto, TensorProto) and proto.data_type in WEB_TYPES:
            web_type = WEB_TYPES[proto.data_type]
            array = numpy_helper.to_array(proto)
            spec.update(type=web_type, dims=[int(d) for d in proto.dims])
            if web_type == "string":
                spec["strings"] = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in array.ravel()]
            elif web_type in ("int4", "uint4"):
                spec["b64"] = base64.b64encode(pack4(array)).decode()
            elif web_type == "float16":
                spec["b64"] = base64.b64encode(np.ascontiguousarray(array, np.float16).view(np.uint16).tobytes()).decode()
            else:
                raw = np.ascontiguousarray(array.astype(np.uint8) if web_type == "bool" else array)
                spec["b64"] = base64.b64encode(raw.tobytes()).decode()
        specs.append(spec)
    return specs


def decode_web_output(spec: dict):
    if spec["type"] == "string":
        return np.array(spec["strings"], dtype=object).reshape(spec["dims"])
    raw = np.frombuffer(base64.b64decode(spec["b64"]), WEB_NUMPY[spec["type"]])
    size = int(np.prod(spec["dims"], dtype=np.int64))
    if spec["type"] in ("int4", "uint4"):
        return unpack4(raw, size, spec["type"] == "int4").reshape(spec["dims"])
    if spec["type"] == "float16":
        raw = raw.view(np.float16)
    elif spec["type"] == "bool":
        raw = raw.astype(bool)
    return raw.reshape(spec["dims"])


# ---------------------------------------------------------------------------------------------
# Comparing outputs


def compare(expected, actual, shape_only: bool = False) -> str | None:
    """None when actual matches expected, else a short, stable description of the first difference."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or sorted(expected) != sorted(actual):
            return "map keys differ"
        return next((why for key in expected if (why := compare(expected[key], actual[key], shape_only))), None)
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return "sequence length differs"
        return next((why for e, a in zip(expected, actual) if (why := compare(e, a, shape_only))), None)
    if expected is None or actual is None:
        return None if expected is None and actual is None else "optional presence differs"
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    if expected.shape != actual.shape:
        return f"shape {list(actual.shape)} instead of {list(expected.shape)}"
    if shape_only:
        return None
    if expected.dtype == object or actual.dtype == object or expected.dtype.kind in "SU":
        norm = np.vectorize(lambda s: s.decode("utf-8") if isinstance(s, bytes) else str(s), otypes=[object])
        same = expected.size == 0 or bool(np.all(norm(expected) == norm(actual)))
        return None if same else "strings differ"
    if expected.dtype.kind in "biu" and expected.dtype.name not in ("int4", "uint4", "int2", "uint2"):
        return None if np.array_equal(expected, actual.astype(expected.dtype)) else "values differ"
    # float16, bfloat16 and the float8s carry 3 decimal digits at most.
    rtol, atol = (1e-2, 1e-2) if expected.dtype.itemsize <= 2 else (1e-3, 1e-4)
    e = expected.astype(np.float64)
    a = actual.astype(np.float64)
    if np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return None
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - e)
    diff = diff[np.isfinite(diff)]
    return f"values differ (max abs diff {float(diff.max()) if diff.size else float('nan'):.2g})"


def level_of(result: dict) -> int:
    if not result.get("session_ok"):
        return SESSION_FAILED
    if not result.get("run_ok"):
        return RUN_FAILED
    return MATCH if result.get("matches") else MISMATCH


# ---------------------------------------------------------------------------------------------
# Native worker (a subprocess, so that a crash in onnxruntime cannot end the probe)


def native_worker(jobs_file: str) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    for line in Path(jobs_file).read_text().splitlines():
        job = json.loads(line)
        data = Path(job["data"])
        result = {"name": job["name"], "session_ok": False, "run_ok": False, "matches": False, "error": None}
        try:
            model = onnx.load(job["model"])
            session = ort.InferenceSession(job["model"], options, providers=["CPUExecutionProvider"])
            result["session_ok"] = True
            feeds = {name: to_python(proto) for name, _, proto in load_values(model, data, "input")}
            outputs = session.run([o.name for o in session.get_outputs()], feeds)
            result["run_ok"] = True
            if job["reference"] == "native":
                # Native onnxruntime's outputs become the expected outputs the web build is held to.
                for j, (info, value) in enumerate(zip(model.graph.output, outputs)):
                    (data / f"output_{j}.pb").write_bytes(numpy_helper.from_array(np.asarray(value), info.name).SerializeToString())
            why = None
            for (name, _, proto), actual in zip(load_values(model, data, "output"), outputs):
                if why := compare(to_python(proto), actual, job["shape_only"]):
                    why = f"{name}: {why}"
                    break
            result["matches"] = why is None
            result["mismatch"] = why
        except Exception as exc:  # noqa: BLE001 - every failure is a finding
            result["error"] = first_line(str(exc))
        print(MARK + json.dumps(result), flush=True)


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else text.strip()


# ---------------------------------------------------------------------------------------------
# Running workers


def run_workers(label: str, command: list[str], jobs: list[dict], scratch: Path) -> dict[str, dict]:
    """Feed jobs to a worker command in batches; a case that hangs or crashes the worker is recorded, and the rest go on in a new one."""
    results: dict[str, dict] = {}
    pending = list(jobs)
    runs = 0
    while pending:
        batch, pending = pending[:BATCH], pending[BATCH:]
        runs += 1
        jobs_file = scratch / f"{label}-{runs}.jsonl"
        jobs_file.write_text("".join(json.dumps(job) + "\n" for job in batch))
        stderr_path = scratch / f"{label}-{runs}.stderr"
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(
                command + [str(jobs_file)], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True
            )
            lines: queue.Queue = queue.Queue()

            def pump(stream=proc.stdout, sink=lines):
                for raw in stream:
                    text = raw.decode("utf-8", "replace")
                    if text.startswith(MARK):
                        sink.put(json.loads(text[len(MARK):]))
                sink.put(None)

            threading.Thread(target=pump, daemon=True).start()
            done = 0
            failure = None
            restart = False
            while done < len(batch):
                try:
                    item = lines.get(timeout=CASE_TIMEOUT_S)
                except queue.Empty:
                    failure = f"timed out after {CASE_TIMEOUT_S:.0f} s"
                    break
                if item is None:
                    proc.wait()
                    if proc.returncode == RESTART_EXIT:
                        restart = True
                    else:
                        failure = f"worker crashed (exit status {proc.returncode})"
                    break
                results[item["name"]] = item
                done += 1
            if failure:
                try:
                    os.killpg(proc.pid, 9)  # the worker's own process group, started above
                except ProcessLookupError:
                    pass
            proc.wait()
        if restart:
            pending = batch[done:] + pending
        elif failure:
            if done < len(batch):
                culprit = batch[done]["name"]
                tail = stderr_path.read_text(errors="replace").strip().splitlines()
                detail = f": {first_line(tail[-1])}" if tail and "crashed" in failure else ""
                results[culprit] = {"name": culprit, "session_ok": False, "run_ok": False, "matches": False,
                                    "error": failure + detail, "crashed": True}
                print(f"  {label}: {culprit}: {failure}{detail}", file=sys.stderr)
                # The cases after the culprit go back to the front of the queue, in a fresh worker.
                pending = batch[done + 1:] + pending
    return results


def judge_web(case: Case, model: onnx.ModelProto, raw: dict) -> dict:
    result = {k: raw.get(k) for k in ("session_ok", "run_ok", "error", "stage", "crashed")}
    result["matches"] = False
    if raw.get("run_ok"):
        by_name = {o["name"]: o for o in raw.get("outputs", [])}
        expected = load_values(model, case.data, "output")
        why = None if expected else "no expected outputs"
        for name, _, proto in expected:
            if name not in by_name:
                why = f"{name}: missing"
                break
            if why := compare(to_python(proto), decode_web_output(by_name[name]), case.shape_only):
                why = f"{name}: {why}"
                break
        result["matches"] = why is None
        result["mismatch"] = why
    return result


# ---------------------------------------------------------------------------------------------
# Aggregating


def clean_error(text: str | None) -> str:
    """An error line without the parts that vary between builds and runs (source paths, addresses, error-code prefixes)."""
    text = text or "unknown error"
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"^.*?ERROR_MESSAGE: ", "", text)
    text = re.sub(r"(/[\w.-]+)+\.(h|cc|cpp|c):\d+ ", "", text)
    text = re.sub(r"Load model from \S+ failed:", "", text)
    text = re.sub(r"0x[0-9a-f]{6,}", "0x…", text)
    return text[:160]


def io_limit(web: dict) -> str | None:
    """Which of the JS API's limits a failed web test ran into, if that is why it failed."""
    if web.get("session_ok") and web.get("run_ok"):
        return None
    error = web.get("error") or ""
    return next((key for key, pattern in IO_ERRORS if pattern.search(error)), None)


def lacks_kernel(web: dict) -> bool:
    """Whether a web failure comes from a missing kernel (or one that refuses the types), rather than from the JS API or a bug."""
    error = web.get("error") or ""
    return bool(NO_KERNEL.search(error) or (NOT_IMPLEMENTED.search(error) and not io_limit(web)))


def failure_reason(case: Case, web: dict) -> str:
    if web.get("crashed"):
        return clean_error(web.get("error"))
    if not web.get("session_ok"):
        error = web.get("error") or ""
        if match := NO_KERNEL.search(error):
            return f"no kernel for {match.group(1)}({match.group(2)}) with {', '.join(case.dtypes)}"
        return "session: " + clean_error(error)
    if not web.get("run_ok"):
        prefix = "not implemented: " if lacks_kernel(web) else "run: "
        return prefix + clean_error(web.get("error"))
    return "wrong result: " + (web.get("mismatch") or "")


def web_passes(case: Case) -> bool:
    native, web = case.result["native"], case.result["web"]
    # Matching the onnx test's own expected outputs is a pass whatever native onnxruntime did.
    return level_of(web) >= level_of(native) or (case.reference == "files" and level_of(web) == MATCH)


def counts_for_op(case: Case) -> bool:
    native, web = case.result["native"], case.result["web"]
    return level_of(native) > SESSION_FAILED or (case.reference == "files" and level_of(web) == MATCH)


def aggregate(cases: list[Case]) -> tuple[dict, dict, dict]:
    per_op: dict[tuple[str, str], list[tuple[Case, tuple[str, str, int]]]] = collections.defaultdict(list)
    io_limits: dict[str, dict] = {}
    web_names = {dtype_name(k) for k in WEB_TYPES}
    for case in cases:
        limit = io_limit(case.result["web"])
        case.result["io_limit"] = limit
        if limit and counts_for_op(case):
            entry = io_limits.setdefault(limit, {"errors": set(), "types": set(), "tests": []})
            entry["errors"].add(clean_error(case.result["web"]["error"]))
            entry["tests"].append(case.name)
            model = onnx.load(case.model)
            io_types = {type_name(v.type) for v in list(model.graph.input) + list(model.graph.output)}
            entry["types"].update(t for t in io_types if t not in web_names
                                  or (limit == "element_type_of_output" and t in ("int4", "uint4")))
        for entry in case.ops:
            per_op[(entry[0], entry[1])].append((case, entry))

    ops: dict[str, dict] = collections.defaultdict(dict)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for (domain, op_type), entries in sorted(per_op.items()):
        counted, io_limited, native_failed = [], [], []
        for case, entry in entries:
            # A multi-operator model whose missing kernel is named in the error only says something about that operator.
            match = NO_KERNEL.search(case.result["web"].get("error") or "")
            if len(case.ops) > 1 and match and match.group(1) != op_type:
                continue
            if not counts_for_op(case):
                native_failed.append((case, entry))
            elif case.result["io_limit"]:
                io_limited.append((case, entry))
            else:
                counted.append((case, entry))
        info: dict = {}
        if counted:
            passed = [(c, e) for c, e in counted if web_passes(c)]
            failed = [(c, e) for c, e in counted if not web_passes(c)]
            info["opsets"] = sorted({e[2] for _, e in counted})
            info["dtypes"] = sorted({d for c, _ in counted for d in c.dtypes})
            info["tests"] = len(counted)
            if not failed:
                info["status"] = "supported"
            elif not passed:
                info["status"] = "unsupported"
                reasons = collections.Counter(
                    re.sub(r" with .*$", "", failure_reason(c, c.result["web"])) for c, _ in failed
                )
                info["reason"] = reasons.most_common(1)[0][0]
            else:
                info["status"] = "partial"
                info["passing_opsets"] = sorted({e[2] for _, e in passed})
                info["failing"] = {c.name: failure_reason(c, c.result["web"]) for c, _ in failed}
        elif io_limited:
            case = io_limited[0][0]
            info["status"] = "io_limited"
            info["opsets"] = sorted({e[2] for _, e in io_limited})
            info["reason"] = f"{case.result['io_limit']}: " + clean_error(case.result["web"].get("error"))
            info["web_session_ok"] = any(c.result["web"].get("session_ok") for c, _ in io_limited)
        else:
            # Native onnxruntime cannot load any of its tests either: nothing to hold the web build to.
            case = native_failed[0][0]
            info["status"] = "untested"
            info["opsets"] = sorted({e[2] for _, e in native_failed})
            info["reason"] = "native onnxruntime fails too: " + clean_error(case.result["native"].get("error"))

        # Whatever native onnxruntime does: the element types and opset versions for which some test
        # failed for want of a kernel and no test found one. A session that failed for another reason
        # (a kernel refusing its attributes, say) still found its kernel.
        everything = counted + io_limited + native_failed
        no_kernel = [e for e in everything if lacks_kernel(e[0].result["web"])]
        loaded = [e for e in everything if e not in no_kernel and not e[0].result["web"].get("crashed")]
        if missing := sorted({e[2] for _, e in no_kernel} - {e[2] for _, e in loaded}):
            info["no_kernel_opsets"] = missing
        by_version = {}
        for since in sorted({e[2] for _, e in no_kernel} - set(missing)):
            ok = {d for c, e in loaded if e[2] == since for d in c.dtypes}
            if lacking := sorted({d for c, e in no_kernel if e[2] == since for d in c.dtypes} - ok):
                by_version[str(since)] = lacking
        if by_version:
            info["no_kernel_dtypes"] = by_version
        ops[domain][op_type] = info
        counts[domain][info["status"]] += 1

    limits = {
        key: {"errors": sorted(v["errors"]), "graph_io_types": sorted(v["types"]), "tests": sorted(v["tests"])}
        for key, v in sorted(io_limits.items())
    }
    return ops, counts, limits


def untested_schemas(ops: dict) -> dict[str, list[str]]:
    """Operators that the onnx schemas define but no case here exercised; inpage can only say "unknown" about these."""
    missing: dict[str, set[str]] = collections.defaultdict(set)
    for schema in onnx.defs.get_all_schemas():
        domain = domain_name(schema.domain)
        if domain not in ("ai.onnx", "ai.onnx.ml") or schema.deprecated:
            continue
        if schema.name not in ops.get(domain, {}):
            missing[domain].add(schema.name)
    return {d: sorted(names) for d, names in sorted(missing.items())}


def write_json(path: Path, doc: dict) -> None:
    """One operator a line: small enough to diff and review, and byte-identical across runs."""
    def dump(value):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    lines = ["{"]
    for key in sorted(k for k in doc if k != "ops"):
        lines.append(f"  {dump(key)}: {dump(doc[key])},")
    lines.append('  "ops": {')
    domains = sorted(doc["ops"])
    for i, domain in enumerate(domains):
        lines.append(f"    {dump(domain)}: {{")
        names = sorted(doc["ops"][domain])
        for j, name in enumerate(names):
            lines.append(f"      {dump(name)}: {dump(doc['ops'][domain][name])}" + ("," if j < len(names) - 1 else ""))
        lines.append("    }" + ("," if i < len(domains) - 1 else ""))
    lines += ["  }", "}"]
    text = "\n".join(lines) + "\n"
    json.loads(text)  # the hand-made layout must still be valid JSON
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------


def check_versions() -> str:
    import onnxruntime

    problems = []
    if onnx.__version__ != ONNX_VERSION:
        problems.append(f"onnx {onnx.__version__} (want {ONNX_VERSION})")
    if onnxruntime.__version__ != ORT_NATIVE_VERSION:
        problems.append(f"onnxruntime {onnxruntime.__version__} (want {ORT_NATIVE_VERSION})")
    web_pkg = ROOT / "node_modules" / "onnxruntime-web" / "package.json"
    web_version = json.loads(web_pkg.read_text())["version"] if web_pkg.exists() else "missing"
    if web_version != ORT_WEB_VERSION:
        problems.append(f"onnxruntime-web {web_version} (want {ORT_WEB_VERSION}; run npm ci)")
    if problems:
        sys.exit("wrong versions: " + "; ".join(problems))
    return web_version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--only", help="regular expression: probe only the cases whose name matches (for debugging)")
    parser.add_argument("--no-skl2onnx", action="store_true", help="leave out the scikit-learn models")
    parser.add_argument("--keep", type=Path, help="keep the scratch files (models, jobs, worker stderr, per-case results) here")
    parser.add_argument("--native-worker", metavar="JOBS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.native_worker:
        native_worker(args.native_worker)
        return

    started = time.monotonic()
    web_version = check_versions()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="ort-web-ops-"))
    if args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        node_cases = onnx_node_cases()
        cases = node_cases + variant_cases(node_cases, scratch) + synthetic_cases(scratch)
        if not args.no_skl2onnx:
            cases += skl2onnx_cases(scratch)
        if args.only:
            cases = [c for c in cases if re.search(args.only, c.name)]
        print(f"{len(cases)} cases ({dict(collections.Counter(c.source for c in cases))}), "
              f"prepared in {time.monotonic() - started:.0f} s", file=sys.stderr)

        native_jobs, web_jobs, models = [], [], {}
        (scratch / "inputs").mkdir(exist_ok=True)
        for case in cases:
            models[case.name] = onnx.load(case.model)
            inputs_file = scratch / "inputs" / f"{case.name}.json"
            inputs_file.write_text(json.dumps(web_inputs(case, models[case.name])))
            native_jobs.append({"name": case.name, "model": str(case.model), "data": str(case.data),
                                "reference": case.reference, "shape_only": case.shape_only})
            web_jobs.append({"name": case.name, "model": str(case.model), "inputs": str(inputs_file)})

        # The two runtimes take a core each.
        outcome: dict[str, dict] = {}
        runners = [
            threading.Thread(target=lambda: outcome.__setitem__("native", run_workers(
                "native", [sys.executable, str(Path(__file__).resolve()), "--native-worker"], native_jobs, scratch))),
            threading.Thread(target=lambda: outcome.__setitem__("web", run_workers(
                "web", ["node", str(NODE_SCRIPT)], web_jobs, scratch))),
        ]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()

        for case in cases:
            case.result["native"] = outcome["native"][case.name]
            case.result["web"] = judge_web(case, models[case.name], outcome["web"][case.name])
        if args.keep:
            (scratch / "results.json").write_text(json.dumps(
                {c.name: {"ops": c.ops, "dtypes": c.dtypes, **c.result} for c in cases}, indent=1, sort_keys=True))

        ops, counts, limits = aggregate(cases)
        doc = {
            "onnxruntime_web": web_version,
            "backend": "wasm",
            "generated_by": "build/ops/probe_ort_web_ops.py",
            "method": (
                f"onnx {ONNX_VERSION}'s single-operator node tests, retyped and older-opset variants of them, small"
                " synthetic graphs and skl2onnx models were run in onnxruntime-web's wasm backend (Node, one thread,"
                f" ort-wasm-simd-threaded.wasm) and in native onnxruntime {ORT_NATIVE_VERSION}; an operator passes a test"
                " when the web build gets as far as native onnxruntime (session, run, matching outputs)."
            ),
            "legend": {
                "supported": "passes every test that native onnxruntime passes",
                "partial": "fails some tests that native onnxruntime passes: 'failing' names them and says why",
                "unsupported": "fails every test that native onnxruntime passes: 'reason' says how",
                "io_limited": "every test needs a graph input or output the JS API cannot pass (see io_limits)",
                "untested": "native onnxruntime cannot run its tests either",
                "no_kernel_dtypes": "by operator version (since_version): element types with no kernel in the web build (native onnxruntime may lack them too)",
                "no_kernel_opsets": "operator versions (since_version) with no kernel in the web build, likewise",
            },
            "missing_kernel_error": "Can't create a session. ERROR_CODE: 9, ERROR_MESSAGE: Could not find an implementation for OP(VERSION) node with name 'NAME'",
            # For recognising the same failures when a page creates or runs a session.
            "error_patterns": {"no_kernel": NO_KERNEL.pattern, "not_implemented": NOT_IMPLEMENTED.pattern,
                               **{key: pattern.pattern for key, pattern in IO_ERRORS if key != "non_tensor_or_exotic_input"}},
            "counts": {d: dict(sorted(c.items())) for d, c in sorted(counts.items())},
            "io_limits": limits,
            "untested_schemas": untested_schemas(ops),
            "ops": ops,
        }
        write_json(args.out, doc)
        for domain, count in sorted(counts.items()):
            print(f"{domain}: " + ", ".join(f"{k} {v}" for k, v in sorted(count.items())), file=sys.stderr)
        print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB) in {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
