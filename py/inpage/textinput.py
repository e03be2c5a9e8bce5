"""How texts become a text model's feeds: the tokenizer its manifest entry names, the inputs it fills, and
a batch padded to its longest text. The base of every text task (``embed``, ``classify_text``).

A text model's entry carries a ``text`` section beside its ``files``::

    "files": {"minilm/tokenizer.json": "<sha256>", "minilm/config.json": "<sha256>", ...},
    "text": {"tokenizer": "minilm/tokenizer.json", "max_length": 256,
             "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"}}

``inputs`` says which graph input takes which of the tokenizer's arrays (a graph may take any subset
of the three, under any names). Texts longer than ``max_length`` tokens are cut there, as the model
was trained; a batch is padded to its longest text, not to ``max_length``, so short texts stay cheap.
A call's texts run ``max_batch`` at a time, so memory is bounded by the model, not by how many
texts a caller sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import InvalidArgumentError, ProjectError, TokenizerError
from .specs import ModelSpec
from .tasks import Task

# The arrays a tokenizer gives, in the order they are listed.
TEXT_ROLES = ("input_ids", "attention_mask", "token_type_ids")
TEXT_INPUT_DTYPES = {"int64": np.int64, "int32": np.int32}
# The longest sequence a BERT-style model takes, where neither the entry nor the tokenizer says.
DEFAULT_MAX_LENGTH = 512


@dataclass(frozen=True)
class TextSpec:
    """The ``text`` section of a manifest entry, checked."""

    tokenizer: str
    max_length: int
    inputs: dict[str, str]  # role (input_ids, attention_mask, token_type_ids) -> graph input name


def text_spec(spec: ModelSpec) -> tuple[TextSpec | None, list[str]]:
    """The entry's ``text`` section and the problems with it, one line each."""
    raw = spec.entry.get("text")
    if not isinstance(raw, dict):
        return None, ["a text model needs a \"text\" section (tokenizer, max_length, inputs); add the model's folder with `inpage add FOLDER`"]
    problems = []
    tokenizer = raw.get("tokenizer")
    if not isinstance(tokenizer, str) or tokenizer not in spec.files:
        problems.append(f"text.tokenizer must name one of the entry's files (its tokenizer.json), not {tokenizer!r}")
    max_length = raw.get("max_length", DEFAULT_MAX_LENGTH)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        problems.append(f"text.max_length must be an integer of at least 2 (tokens), not {max_length!r}")
    inputs = raw.get("inputs")
    names = {t.name: t for t in spec.inputs}
    if not isinstance(inputs, dict) or "input_ids" not in inputs:
        problems.append(f"text.inputs must map input_ids (and attention_mask, token_type_ids where the graph takes them) to input names, not {inputs!r}")
        inputs = {}
    for role, name in inputs.items():
        if role not in TEXT_ROLES:
            problems.append(f"text.inputs has {role!r}; the roles are {', '.join(TEXT_ROLES)}")
        elif name not in names:
            problems.append(f"text.inputs.{role} names {name!r}, which is not among the inputs {list(names)}")
        elif names[name].dtype not in TEXT_INPUT_DTYPES:
            problems.append(f"input {name!r} is {names[name].dtype}; token inputs must be int64 or int32")
    unfed = [name for name in names if name not in inputs.values()]
    if inputs and unfed:
        problems.append(f"inputs {', '.join(map(repr, unfed))} are not in text.inputs, so nothing would feed them")
    if problems:
        return None, problems
    return TextSpec(tokenizer, max_length, dict(inputs)), []


def max_length(model) -> int:
    """The longest sequence a model of an export folder takes: sentence-transformers' ``max_seq_length``,
    else the tokenizer config's ``model_max_length``, else the position embeddings' count, at most
    that count; a note says which."""
    positions = model.folder_json("config.json").get("max_position_embeddings")
    positions = positions if isinstance(positions, int) and positions > 1 else None
    for path, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        value = model.folder_json(path).get(key)
        # Transformers writes a huge model_max_length (1e30) for "no limit": not a length.
        if isinstance(value, int) and not isinstance(value, bool) and 1 < value < 1_000_000:
            length = min(value, positions or value)
            model.notes.append(f"max_length: {length} tokens (from {path}); longer texts are cut there")
            return length
    length = positions or DEFAULT_MAX_LENGTH
    model.notes.append(f"max_length: {length} tokens ({'config.json max_position_embeddings' if positions else 'none recorded, so BERT-style 512 is assumed'})")
    return length


def text_inputs(names) -> dict[str, str]:
    """The roles a graph's input names play, matched by name (``inpage add``): ``input_ids``,
    ``attention_mask`` and ``token_type_ids``, whatever subset the graph has."""
    found = {}
    for name in names:
        role = next((r for r in TEXT_ROLES if name == r or name.split(":")[0] == r), None)
        if role is not None:
            found[role] = name
    return found


class TextTask(Task):
    """A task whose input is text: one string, or a list of strings (or of ``[text, pair]``), run
    through the entry's tokenizer into token ids. Subclasses read the outputs (``finish``)."""

    input_kind = "text"
    max_batch: ClassVar[int | None] = 32

    @classmethod
    def recognise(cls, model):
        return model.is_text and "input_ids" in text_inputs(t.name for t in model.inputs)

    @classmethod
    def plan(cls, model):
        """The ``text`` section: the tokenizer, the longest sequence, and which input takes what."""
        if not model.is_text:
            raise ProjectError(f"{cls.name} needs the model's tokenizer: add the folder the model was exported to "
                               "(model.onnx with tokenizer.json and config.json beside it): inpage add FOLDER")
        names = [t.name for t in model.inputs]
        roles = text_inputs(names)
        if "input_ids" not in roles:
            raise ProjectError(f"no input takes token ids: a text model's inputs are named input_ids (with attention_mask, token_type_ids), "
                               f"this one has {', '.join(names)}")
        unfed = [name for name in names if name not in roles.values()]
        if unfed:
            raise ProjectError(f"inputs {', '.join(unfed)} take nothing a tokenizer gives (input_ids, attention_mask, token_type_ids); "
                               "use --task run and feed them yourself")
        return {"text": {"tokenizer": model.bundled("tokenizer.json"), "max_length": max_length(model), "inputs": roles}}

    @classmethod
    def check_spec(cls, spec):
        _text, problems = text_spec(spec)
        return problems

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        text, problems = text_spec(spec)
        if text is None:
            raise TokenizerError(f"model {spec.name!r}: {problems[0]}")
        self.text = text
        self.tokenizer = None
        self.pad_id = 0
        self.dtypes = {role: TEXT_INPUT_DTYPES[spec.input(name).dtype] for role, name in text.inputs.items()}

    async def load(self, read):
        from .text import Tokenizer

        data = await read(self.text.tokenizer)
        try:
            tokenizer = Tokenizer.from_str(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise TokenizerError(f"model {self.spec.name!r}: {self.text.tokenizer} is not UTF-8 JSON; use the tokenizer.json the model was exported with") from None
        except TokenizerError as exc:
            raise TokenizerError(f"model {self.spec.name!r}: {exc}") from None
        tokenizer.enable_truncation(self.text.max_length)
        # Padding is done here, to the batch's longest text: a file's fixed-length padding would
        # make every short text cost as much as the longest the model takes.
        padding = tokenizer.padding
        self.pad_id = int(padding["pad_id"]) if padding else 0
        tokenizer.no_padding()
        # The first encode builds tables over all of Unicode (26 ms natively, ~70 ms in the page):
        # pay it here, with the model's loading, not in the user's first call.
        tokenizer.encode("Warm up, 1.")
        self.tokenizer = tokenizer

    def tokenizer_or_fail(self):
        if self.tokenizer is None:
            raise TokenizerError(f"model {self.spec.name!r}: its tokenizer is not loaded; load the model with load_model()")
        return self.tokenizer

    def split(self, sample):
        if isinstance(sample, str):
            return None
        if isinstance(sample, np.ndarray) and sample.dtype.kind in "UO":
            sample = sample.tolist()
        if not isinstance(sample, (list, tuple)):
            raise InvalidArgumentError(f"{self.method}() takes a string or a list of strings, not {type(sample).__name__}")
        for position, item in enumerate(sample):
            self.check_text(item, f"texts[{position}]")
        return list(sample)

    def check_text(self, item: Any, where: str) -> None:
        if isinstance(item, str):
            return
        if isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(part, str) for part in item):
            return  # a pair: [text, text_pair], for models trained on two texts (NLI, question answering)
        raise InvalidArgumentError(f"{where} is {_kind(item)}; each text must be a string (or a [text, pair] of two strings)")

    def prepare_batch(self, samples, options):
        tokenizer = self.tokenizer_or_fail()
        for sample in samples:
            self.check_text(sample, "text")
        encodings = tokenizer.encode_batch([tuple(s) if isinstance(s, list) else s for s in samples])
        length = max(len(e.ids) for e in encodings)
        arrays = {
            "input_ids": np.full((len(samples), length), self.pad_id, dtype=np.int64),
            "attention_mask": np.zeros((len(samples), length), dtype=np.int64),
            "token_type_ids": np.zeros((len(samples), length), dtype=np.int64),
        }
        for row, encoding in enumerate(encodings):
            count = len(encoding.ids)
            arrays["input_ids"][row, :count] = encoding.ids
            arrays["attention_mask"][row, :count] = encoding.attention_mask
            arrays["token_type_ids"][row, :count] = encoding.type_ids
        feeds = {name: arrays[role].astype(self.dtypes[role], copy=False) for role, name in self.text.inputs.items()}
        return feeds, [arrays["attention_mask"][row] for row in range(len(samples))]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} ({repr(value)[:40]})"
