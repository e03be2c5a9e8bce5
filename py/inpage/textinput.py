"""How texts become a text model's feeds: the tokenizer its manifest entry names, the inputs it fills, and
a batch padded to its longest text. The base of every text task (``embed``, ``classify_text``).

A text model's entry carries a ``text`` section beside its ``files``::

    "files": {"minilm/tokenizer.json": "<sha256>", "minilm/config.json": "<sha256>", ...},
    "text": {"tokenizer": "minilm/tokenizer.json", "max_length": 256,
             "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"}}

``lowercase: true`` (from sentence-transformers' ``do_lower_case``) lowercases texts before the tokenizer.

``inputs`` says which graph input takes which of the tokenizer's arrays (a graph may take any subset
of the three, under any names). Texts longer than ``max_length`` tokens are cut there, as the model
was trained; a batch is padded to its longest text, not to ``max_length``, so short texts stay cheap
(a graph exported with a fixed sequence length gets every batch padded to that length).
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
# Model types (config.json model_type) whose position ids start after the padding token's, so that
# max_position_embeddings counts pad_token_id + 1 rows no text can use (Hugging Face's modeling code).
_POSITIONS_AFTER_PADDING = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet", "longformer", "data2vec-text", "ibert", "luke"}


@dataclass(frozen=True)
class TextSpec:
    """The ``text`` section of a manifest entry, checked."""

    tokenizer: str
    max_length: int
    inputs: dict[str, str]  # role (input_ids, attention_mask, token_type_ids) -> graph input name
    lowercase: bool = False  # sentence-transformers' do_lower_case: texts are lowercased before the tokenizer


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
    lowercase = raw.get("lowercase", False)
    if not isinstance(lowercase, bool):
        problems.append(f"text.lowercase must be true or false, not {lowercase!r}")
    unfed = [name for name in names if name not in inputs.values()]
    if inputs and unfed:
        problems.append(f"inputs {', '.join(map(repr, unfed))} are not in text.inputs, so nothing would feed them")
    if problems:
        return None, problems
    return TextSpec(tokenizer, max_length, dict(inputs), lowercase), []


def max_length(model) -> int:
    """The longest sequence a model of an export folder takes: sentence-transformers' ``max_seq_length``,
    else the tokenizer config's ``model_max_length``, else the position embeddings' count; never
    more than the positions the model has, nor than the length a static graph was exported with. A
    note says which."""
    limits = []  # (tokens, why): what the model itself can take
    config = model.folder_json("config.json")
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and not isinstance(positions, bool) and positions > 1:
        pad = config.get("pad_token_id")
        if config.get("model_type") in _POSITIONS_AFTER_PADDING and isinstance(pad, int) and 0 <= pad < positions - 2:
            # RoBERTa's family numbers positions from pad_token_id + 1: of its 514 rows, 512 are usable.
            limits.append((positions - pad - 1, f"config.json max_position_embeddings {positions}, less the {pad + 1} before the first position"))
        else:
            limits.append((positions, "config.json max_position_embeddings"))
    fixed = fixed_length(model.inputs)
    if fixed is not None:
        limits.append((fixed, "the graph's fixed sequence length; shorter texts are padded to it"))
    limit = min(limits, default=None)
    for path, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        value = model.folder_json(path).get(key)
        # Transformers writes a huge model_max_length (1e30) for "no limit": not a length.
        if isinstance(value, int) and not isinstance(value, bool) and 1 < value < 1_000_000:
            if limit is None or value <= limit[0]:
                model.notes.append(f"max_length: {value} tokens (from {path}); longer texts are cut there")
                return value
            break
    length, why = limit or (DEFAULT_MAX_LENGTH, "none recorded, so BERT-style 512 is assumed")
    model.notes.append(f"max_length: {length} tokens ({why}); longer texts are cut there")
    return length


def fixed_length(inputs) -> int | None:
    """The sequence length a graph was exported with, where its token inputs' second axis is fixed
    (a static export: every batch is padded to it), else None."""
    lengths = {t.shape[1] for t in inputs if t.shape and len(t.shape) == 2 and isinstance(t.shape[1], int) and t.name in text_inputs([t.name]).values()}
    return min(lengths) if lengths else None


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
        vocab = (model.folder_files["tokenizer.json"].get("model") or {}).get("vocab")
        rows = model.info.token_table_rows.get(roles["input_ids"])
        if rows is not None and isinstance(vocab, (dict, list)) and len(vocab) > rows:
            raise ProjectError(f"tokenizer.json has {len(vocab)} tokens, but the model's token table has {rows} rows: the tokenizer "
                               "is another model's; export the folder again, with the tokenizer the model was trained with")
        text = {"tokenizer": model.bundled("tokenizer.json"), "max_length": max_length(model), "inputs": roles}
        if model.folder_json("sentence_bert_config.json").get("do_lower_case") is True:
            text["lowercase"] = True
            model.notes.append("lowercase: texts are lowercased before tokenizing (sentence_bert_config.json do_lower_case)")
        return {"text": text}

    @classmethod
    def check_spec(cls, spec):
        _text, problems = text_spec(spec)
        for tensor in spec.inputs:
            if tensor.shape and isinstance(tensor.shape[0], int) and tensor.shape[0] > 1:
                problems.append(f"input {tensor.name!r} takes a fixed batch of {tensor.shape[0]} texts; export the model with a dynamic batch axis "
                                "(torch.onnx.export dynamic_axes, or optimum's default export)")
        return problems

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        text, problems = text_spec(spec)
        if text is None:
            raise TokenizerError(f"model {spec.name!r}: {problems[0]}")
        self.text = text
        # A static export takes exactly this many tokens: batches are padded to it, texts cut at it.
        self.fixed_length = fixed_length(spec.inputs)
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
        tokenizer.enable_truncation(min(self.text.max_length, self.fixed_length or self.text.max_length))
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
        texts = [tuple(s) if isinstance(s, (list, tuple)) else s for s in samples]
        if self.text.lowercase:
            texts = [tuple(part.lower() for part in t) if isinstance(t, tuple) else t.lower() for t in texts]
        encodings = tokenizer.encode_batch(texts)
        for sample, encoding in zip(samples, encodings):
            if not encoding.ids:
                # A tokenizer that adds no special tokens (GPT-2's) gives nothing for "" or "  ": no
                # token to pool or classify, so no answer that would mean anything.
                raise InvalidArgumentError(f"the text {repr(sample)[:60]} gives no tokens with the tokenizer of model {self.spec.name!r}; "
                                           "leave out empty and whitespace-only texts")
        length = self.fixed_length or max(len(e.ids) for e in encodings)
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
