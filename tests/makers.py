"""Hostile inputs and small models, made in the tests rather than by hand.

Images: PNGs that claim huge or extreme sizes in a few bytes, 16-bit PNGs, EXIF-rotated JPEGs,
RGBA with a colour hidden under alpha 0, multi-page TIFFs, animated GIFs. Models: tiny ONNX graphs
built with onnx.helper in the layouts users bring (a classifier ending in Softmax, two outputs, a
grayscale input, a YOLO v8 head, weights in an external file) and a scikit-learn pipeline through
skl2onnx with its default ZipMap.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# ---- images --------------------------------------------------------------------------------------


def png(array: np.ndarray) -> bytes:
    """A PNG of a uint8 HxW, HxWx3 or HxWx4 array (Pillow writes it)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_raw(width: int, height: int, rows: bytes, bit_depth: int, colour_type: int) -> bytes:
    """A PNG written chunk by chunk: any size in the header, any depth (16-bit RGB, which Pillow cannot write)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b"")


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes that claim a ``width`` x ``height`` 8-bit RGB image (only one row of data)."""
    return png_raw(width, height, b"\x00" + b"\x80" * (3 * min(width, 1000)), 8, 2)


def strip_png(width: int, height: int) -> bytes:
    """A real, complete, extreme-aspect RGB PNG (10000x1 compresses to ~100 bytes)."""
    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    return png_raw(width, height, rows, 8, 2)


def png16(array: np.ndarray) -> bytes:
    """A 16-bit PNG of a uint16 HxW (grayscale) or HxWx3 (RGB) array, big-endian as PNG stores it."""
    height, width = array.shape[:2]
    colour_type = 0 if array.ndim == 2 else 2
    big_endian = array.astype(">u2")
    rows = b"".join(b"\x00" + big_endian[y].tobytes() for y in range(height))
    return png_raw(width, height, rows, 16, colour_type)


def exif_jpeg(array: np.ndarray, orientation: int) -> bytes:
    """A JPEG of ``array`` stored as is, with an EXIF orientation tag telling viewers to rotate it."""
    image = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def exif_png(array: np.ndarray, orientation: int) -> bytes:
    """A lossless PNG with an EXIF orientation (Pillow writes eXIf chunks), for exact parity checks."""
    image = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif.tobytes())
    return buffer.getvalue()


def rgba_hidden_colour(size: int = 64) -> np.ndarray:
    """An RGBA image: an opaque blue square on a fully transparent background whose hidden colour is red."""
    array = np.zeros((size, size, 4), np.uint8)
    array[..., 0] = 255  # red, under alpha 0
    array[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = (0, 0, 255, 255)
    return array


def multipage_tiff(arrays: list[np.ndarray]) -> bytes:
    images = [Image.fromarray(a) for a in arrays]
    buffer = io.BytesIO()
    images[0].save(buffer, "TIFF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def animated_gif(arrays: list[np.ndarray]) -> bytes:
    images = [Image.fromarray(a) for a in arrays]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def avif_or_header() -> bytes:
    """An AVIF file where Pillow can write one, else the bytes an AVIF file starts with."""
    buffer = io.BytesIO()
    try:
        Image.new("RGB", (16, 16), (10, 200, 10)).save(buffer, "AVIF")
        return buffer.getvalue()
    except (KeyError, OSError, ValueError):
        return b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64


# ---- models --------------------------------------------------------------------------------------


def _save(model, path: Path, external: bool = False) -> Path:
    import onnx

    model.ir_version = 8  # onnxruntime-web 1.30 reads IR 3-10; native too
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(model)
    if external:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=f"{path.name}.data", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


def classifier(path: Path, *, classes: int = 4, channels: int = 3, size: int = 8, softmax: bool = False, batch: str | int = "N",
               two_outputs: bool = False, external: bool = False, seed: int = 0) -> Path:
    """An image classifier: mean colour per channel -> Gemm -> logits [batch, classes] (-> Softmax)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 2, (classes, channels)).astype(np.float32)
    bias = rng.normal(0, 0.1, classes).astype(np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"]),
        helper.make_node("Gemm", ["features", "W", "B"], ["logits"], transB=1),
    ]
    outputs = []
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
        outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, classes]))
    else:
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes]))
    if two_outputs:
        # An embedding output first, so a reader that takes the first output reads the wrong one.
        nodes.insert(2, helper.make_node("Identity", ["features"], ["embedding"]))
        outputs.insert(0, helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, channels]))
    graph = helper.make_graph(
        nodes, "classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, channels, size, size])],
        outputs,
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="inpage-tests"), path, external)


def big_classifier(path: Path, external: bool = True) -> Path:
    """A classifier whose weights (a 256 KB matrix) sit in an external .data file, as torch.onnx.export writes them."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    projection = rng.normal(0, 1, (3, 256)).astype(np.float32)
    head = rng.normal(0, 0.1, (256, 10)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["features"]),
            helper.make_node("MatMul", ["features", "P"], ["hidden"]),
            helper.make_node("Relu", ["hidden"], ["activated"]),
            helper.make_node("MatMul", ["activated", "H"], ["logits"]),
        ],
        "torch_like",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(projection, "P"), numpy_helper.from_array(head, "H")],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch"), path, external)


def yolo_v8(path: Path, *, classes: int = 3, size: int = 64, names: list[str] | None = None) -> Path:
    """A YOLO v8-layout detector: output [1, 4+C, N] of fixed candidates, scaled by the image's mean
    brightness (so the input matters), with ultralytics-style metadata (names, imgsz, task, stride)."""
    from onnx import TensorProto, helper, numpy_helper

    n = 6
    raw = np.zeros((1, 4 + classes, n), np.float32)
    # cx, cy, w, h in input pixels; two overlapping candidates of class 0, one of class 1, three weak ones.
    raw[0, :4, 0] = (20, 20, 16, 16); raw[0, 4, 0] = 0.9
    raw[0, :4, 1] = (21, 21, 16, 16); raw[0, 4, 1] = 0.8
    raw[0, :4, 2] = (44, 40, 20, 12); raw[0, 5, 2] = 0.7
    raw[0, :4, 3] = (10, 50, 8, 8); raw[0, 4 + classes - 1, 3] = 0.1
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["brightness"], keepdims=1),  # [1,1,1,1]
            helper.make_node("Reshape", ["brightness", "one"], ["scale"]),
            helper.make_node("Mul", ["candidates", "scale"], ["output0"]),
        ],
        "yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + classes, n])],
        [numpy_helper.from_array(raw / 0.5, "candidates"), numpy_helper.from_array(np.array([1], np.int64), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch")
    names = names or [f"thing{i}" for i in range(classes)]
    for key, value in {"names": str({i: name for i, name in enumerate(names)}), "imgsz": f"[{size}, {size}]", "task": "detect", "stride": "32"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return _save(model, path)


def sklearn_pipeline(path: Path, zipmap: bool = True) -> tuple[Path, object, np.ndarray]:
    """StandardScaler + RandomForest on iris, converted by skl2onnx with its defaults (ZipMap on)."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris()
    x = data.data.astype(np.float32)
    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0)).fit(x, data.target)
    options = None if zipmap else {id(pipeline.steps[-1][1]): {"zipmap": False}}
    onnx_model = to_onnx(pipeline, x[:1], options=options, target_opset={"": 17, "ai.onnx.ml": 3})
    path.write_bytes(onnx_model.SerializeToString())
    return path, pipeline, x


def dtypes_model(path: Path) -> Path:
    """One input and one output of each dtype onnxruntime-web passes: float32 (dynamic batch), float16,
    int32, int64, uint8, bool; each output a simple function of its input."""
    from onnx import TensorProto, helper, numpy_helper

    kinds = [("f32", TensorProto.FLOAT, np.float32), ("f16", TensorProto.FLOAT16, np.float16), ("i32", TensorProto.INT32, np.int32),
             ("i64", TensorProto.INT64, np.int64), ("u8", TensorProto.UINT8, np.uint8), ("b", TensorProto.BOOL, np.bool_)]
    nodes, inputs, outputs, constants = [], [], [], []
    for name, element, dtype in kinds:
        shape = ["N", 3] if name == "f32" else [2, 3]
        inputs.append(helper.make_tensor_value_info(name, element, shape))
        outputs.append(helper.make_tensor_value_info(f"{name}_out", element, shape))
        if name == "b":
            nodes.append(helper.make_node("Not", [name], [f"{name}_out"]))
        elif name == "u8":
            nodes.append(helper.make_node("Identity", [name], [f"{name}_out"]))
        else:
            constants.append(numpy_helper.from_array(np.array(3, dtype=dtype), f"{name}_three"))
            nodes.append(helper.make_node("Mul", [name, f"{name}_three"], [f"{name}_out"]))
    graph = helper.make_graph(nodes, "dtypes", inputs, outputs, constants)
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def zeros_refusing_models(folder: Path) -> tuple[Path, Path]:
    """Two valid models that all-zero inputs make fail: an Expand whose target shape is an input (a
    [3] vector expanded to shape [2, 3] works; to [0, 0] it cannot), and a SplitToSequence whose split
    sizes are an input (they must add up to the length; zeros do not)."""
    from onnx import TensorProto, helper

    folder.mkdir(parents=True, exist_ok=True)
    expand = helper.make_graph(
        [helper.make_node("Expand", ["x", "shape"], ["y"])], "expand",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]), helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", "columns"])],
    )
    split = helper.make_graph(
        [helper.make_node("SplitToSequence", ["x", "split"], ["parts"]), helper.make_node("SequenceAt", ["parts", "index"], ["first"])],
        "split",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]), helper.make_tensor_value_info("split", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("first", TensorProto.FLOAT, ["K"])],
        [helper.make_tensor("index", TensorProto.INT64, [], [0])],
    )
    return (_save(helper.make_model(expand, opset_imports=[helper.make_opsetid("", 17)]), folder / "expander.onnx"),
            _save(helper.make_model(split, opset_imports=[helper.make_opsetid("", 17)]), folder / "splitter.onnx"))


def strings_model(path: Path) -> Path:
    """String tensors in and out (ai.onnx.ml LabelEncoders): words [N] -> their ids [N] (cat 1, dog 2,
    else 0) and those ids as upper-case names [N]."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("LabelEncoder", ["words"], ["ids"], domain="ai.onnx.ml", keys_strings=["cat", "dog"], values_int64s=[1, 2], default_int64=0),
         helper.make_node("LabelEncoder", ["ids"], ["names"], domain="ai.onnx.ml", keys_int64s=[0, 1, 2], values_strings=["?", "CAT", "DOG"], default_string="?")],
        "strings",
        [helper.make_tensor_value_info("words", TensorProto.STRING, ["N"])],
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"]), helper.make_tensor_value_info("names", TensorProto.STRING, ["N"])],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 4)]
    return _save(helper.make_model(graph, opset_imports=opsets), path)


# ---- text models -----------------------------------------------------------------------------------

MINILM = Path(__file__).resolve().parents[1] / "models" / "all-minilm-l6-v2"


def reference_ids(texts, max_length: int, tokenizer: Path | None = None) -> list[list[int]]:
    """The ids Hugging Face's ``tokenizers`` library gives (the reference), cut at ``max_length``, unpadded."""
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(tokenizer or MINILM / "tokenizer.json"))
    reference.enable_truncation(max_length)
    reference.no_padding()
    return [e.ids for e in reference.encode_batch(texts)]


def token_table(vocab: int, width: int, seed: int = 0) -> np.ndarray:
    """The tiny text models' token vectors: one row per token id, seeded, so tests can work answers out."""
    return np.random.default_rng(seed).standard_normal((vocab, width)).astype(np.float32)


def text_export_folder(folder: Path, *, kind: str = "embed", width: int = 8, labels: tuple[str, ...] = ("negative", "neutral", "positive"),
                       inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids"), pooling: str | None = "mean",
                       normalize: bool = True, onnx_subfolder: bool = False, tokenizer: Path | None = None) -> Path:
    """A text model's export folder, as optimum or sentence-transformers write one, around a tiny graph
    over MiniLM's real tokenizer (30,522 tokens):

    * ``kind="embed"``: ``last_hidden_state[n, t] = TABLE[input_ids[n, t]]`` (each token's own row of
      :func:`token_table`), with sentence-transformers' ``modules.json`` and ``1_Pooling/config.json``;
    * ``kind="classify"``: ``logits[n] = mean over the unmasked tokens of TABLE[ids] @ W`` with
      ``config.json`` ``id2label``.

    The graph takes ``inputs`` (any subset of the three; the unused ones feed a zero-weight term so
    that they stay graph inputs)."""
    import json
    import shutil

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or MINILM / "tokenizer.json"
    vocab = len(json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"])
    table = token_table(vocab, width)
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["vectors"], axis=0)]
    initializers = [numpy_helper.from_array(table, "table")]
    current = "vectors"
    for extra in (name for name in inputs if name != "input_ids"):
        # vectors + 0 * extra: keeps the input in the graph without changing the answer.
        nodes += [helper.make_node("Cast", [extra], [f"{extra}_f"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", [f"{extra}_f", "zero"], [f"{extra}_0"]),
                  helper.make_node("Unsqueeze", [f"{extra}_0", "last_axis"], [f"{extra}_u"]),
                  helper.make_node("Add", [current, f"{extra}_u"], [f"vectors_{extra}"])]
        current = f"vectors_{extra}"
    initializers += [numpy_helper.from_array(np.zeros((), np.float32), "zero"), numpy_helper.from_array(np.array([-1], np.int64), "last_axis")]
    graph_inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in inputs]
    if kind == "embed":
        nodes.append(helper.make_node("Identity", [current], ["last_hidden_state"]))
        outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", width])]
    else:
        weights = np.random.default_rng(1).standard_normal((width, len(labels))).astype(np.float32)
        initializers += [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(np.array([1], np.int64), "seq_axis")]
        if "attention_mask" not in inputs:
            raise ValueError("the tiny classifier averages over attention_mask; keep it among the inputs")
        nodes += [
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_u"]),
            helper.make_node("Mul", [current, "mask_u"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "seq_axis"], ["summed"], keepdims=0),
            helper.make_node("ReduceSum", ["mask_u", "seq_axis"], ["count"], keepdims=0),
            helper.make_node("Div", ["summed", "count"], ["pooled"]),
            helper.make_node("MatMul", ["pooled", "weights"], ["logits"]),
        ]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(labels)])]
    graph = helper.make_graph(nodes, f"tiny_{kind}", graph_inputs, outputs, initializers)
    model_path = folder / ("onnx/model.onnx" if onnx_subfolder else "model.onnx")
    model_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), model_path)
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    config = {"architectures": ["BertModel"], "model_type": "bert", "max_position_embeddings": 512, "hidden_size": width}
    if kind == "classify":
        config["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config["label2id"] = {label: i for i, label in enumerate(labels)}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 128, "do_lower_case": True}), encoding="utf-8")
    if kind == "embed":
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
        if pooling:
            modules.append({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})
            (folder / "1_Pooling").mkdir(exist_ok=True)
            keys = {"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens", "max": "pooling_mode_max_tokens",
                    "mean_sqrt_len": "pooling_mode_mean_sqrt_len_tokens"}
            (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": width, **{k: k == keys[pooling] for k in keys.values()}}))
        if normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
        (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}), encoding="utf-8")
    onnx.checker.check_model(str(model_path))
    return folder
