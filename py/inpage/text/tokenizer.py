"""``Tokenizer``: reads a Hugging Face ``tokenizer.json`` and encodes text into the ids the Rust
``tokenizers`` library gives, in plain Python (it runs in the page under Pyodide, where that
library's wheel does not exist).

An encode runs: added tokens cut out, normalizer, pre-tokenizer, model on each word, truncation,
post-processor (special tokens, type ids), padding, as ``tokenizers`` does; offsets are character
offsets into the caller's string, as ``tokenizers``' Python binding gives them.
"""

from __future__ import annotations

import gc
import json
import os

import numpy as np

from ..errors import InvalidArgumentError, TokenizerError
from .added_vocabulary import AddedToken, AddedVocabulary
from .decoders import build_decoder
from .encoding import Encoding
from .jsonnum import serde_float
from .models import build_model
from .normalizers import build_normalizer
from .pre_tokenizers import build_pre_tokenizer
from .processors import build_processor

_STRATEGIES = {"longest_first": "longest_first", "LongestFirst": "longest_first", "only_first": "only_first",
               "OnlyFirst": "only_first", "only_second": "only_second", "OnlySecond": "only_second"}
_DIRECTIONS = {"right": "right", "Right": "right", "left": "left", "Left": "left"}
_LONG_TEXT = 100_000  # characters, past which the cycle collector is paused during an encode


class Tokenizer:
    """A tokenizer built from a ``tokenizer.json``; see ``from_file`` and ``from_str``."""

    def __init__(self, model, normalizer=None, pre_tokenizer=None, post_processor=None, decoder=None,
                 added_tokens=(), truncation=None, padding=None):
        self.model = model
        self.normalizer = normalizer
        self.pre_tokenizer = pre_tokenizer
        self.post_processor = post_processor
        self.decoder = decoder
        self.added = AddedVocabulary()
        self.added.add(list(added_tokens), model, normalizer)
        self._truncation = truncation
        self._padding = padding

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path) -> "Tokenizer":
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise InvalidArgumentError(f"Tokenizer.from_file() takes the path of a tokenizer.json, not {type(path).__name__}")
        try:
            with open(os.fspath(path), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise TokenizerError(f"{path}: no such tokenizer file; give the path of the model's tokenizer.json") from None
        except OSError as exc:
            raise TokenizerError(f"{path}: cannot be read ({exc.strerror or exc}); check the path and its permissions") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenizerError(f"{path}: is not UTF-8 text; give the model's tokenizer.json") from None
        try:
            return cls.from_str(text)
        except TokenizerError as exc:
            message = str(exc)
            if message.startswith("tokenizer.json: "):
                message = message[len("tokenizer.json: "):]
            raise TokenizerError(f"{path}: {message}") from None

    @classmethod
    def from_str(cls, text: str) -> "Tokenizer":
        if not isinstance(text, str):
            raise InvalidArgumentError(f"Tokenizer.from_str() takes the JSON text as a string, not {type(text).__name__}")
        try:
            # Floats exactly as the Rust library reads them (see jsonnum): Unigram scores decide ties.
            config = json.loads(text, parse_float=serde_float)
        except json.JSONDecodeError as exc:
            raise TokenizerError(f"tokenizer.json: is not valid JSON ({exc.msg} at line {exc.lineno} column "
                                 f"{exc.colno}); give the tokenizer.json the model was exported with") from None
        except RecursionError:
            raise TokenizerError("tokenizer.json: is nested too deeply to be a tokenizers file; give the tokenizer.json "
                                 "the model was exported with") from None
        if not isinstance(config, dict) or "model" not in config:
            raise TokenizerError("tokenizer.json: is not a tokenizers file (no \"model\" section); give the "
                                 "tokenizer.json the model was exported with")
        version = config.get("version", "1.0")
        if version != "1.0":
            raise TokenizerError(f"tokenizer.json: version {version!r} is not supported (supported: 1.0); "
                                 "re-save the tokenizer with the tokenizers library")
        model = build_model(config.get("model"))
        normalizer = build_normalizer(config.get("normalizer"))
        pre_tokenizer = build_pre_tokenizer(config.get("pre_tokenizer"))
        post_processor = build_processor(config.get("post_processor"))
        decoder = build_decoder(config.get("decoder"))
        raw_added = config.get("added_tokens") or []
        if not isinstance(raw_added, list):
            raise TokenizerError("tokenizer.json: added_tokens must be a list; fix the tokenizer.json")
        added = [AddedToken.from_config(t) for t in raw_added]
        tokenizer = cls(model, normalizer, pre_tokenizer, post_processor, decoder, added)
        truncation = config.get("truncation")
        if truncation is not None:
            if not isinstance(truncation, dict) or "max_length" not in truncation:
                raise TokenizerError("tokenizer.json: truncation must be null or an object with max_length; fix the tokenizer.json")
            tokenizer.enable_truncation(truncation["max_length"], truncation.get("stride", 0),
                                        truncation.get("strategy", "LongestFirst"), truncation.get("direction", "Right"))
        padding = config.get("padding")
        if padding is not None:
            if not isinstance(padding, dict):
                raise TokenizerError("tokenizer.json: padding must be null or an object; fix the tokenizer.json")
            strategy = padding.get("strategy", "BatchLongest")
            length = None
            if isinstance(strategy, dict) and isinstance(strategy.get("Fixed"), int):
                length = strategy["Fixed"]
            elif strategy != "BatchLongest":
                raise TokenizerError(f"tokenizer.json: padding strategy {strategy!r} is not supported "
                                     "(supported: BatchLongest, {\"Fixed\": n})")
            tokenizer.enable_padding(padding.get("direction", "Right"), padding.get("pad_id", 0),
                                     padding.get("pad_type_id", 0), padding.get("pad_token", "[PAD]"), length,
                                     padding.get("pad_to_multiple_of"))
        return tokenizer

    # -- vocabulary ----------------------------------------------------------------------------

    def token_to_id(self, token: str):
        if not isinstance(token, str):
            raise InvalidArgumentError(f"token_to_id() takes a string, not {type(token).__name__}")
        return self.added.token_to_id(token, self.model)

    def id_to_token(self, token_id: int):
        if isinstance(token_id, bool) or not isinstance(token_id, (int, np.integer)):
            raise InvalidArgumentError(f"id_to_token() takes an integer id, not {type(token_id).__name__}")
        token_id = int(token_id)
        found = self.added.id_to_token(token_id)
        return found if found is not None else self.model.id_to_token(token_id)

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        size = self.model.vocab_size()
        if with_added_tokens:
            overlapping = sum(1 for t in self.added.by_content if self.model.token_to_id(t) is not None)
            size += len(self.added.by_content) - overlapping
        return size

    # -- truncation and padding ----------------------------------------------------------------

    def enable_truncation(self, max_length: int, stride: int = 0, strategy: str = "longest_first",
                          direction: str = "right") -> None:
        for name, value in (("max_length", max_length), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise InvalidArgumentError(f"enable_truncation(): {name} must be a non-negative integer, not {value!r}")
        if strategy not in _STRATEGIES:
            raise InvalidArgumentError(f"enable_truncation(): strategy must be longest_first, only_first or only_second, not {strategy!r}")
        if direction not in _DIRECTIONS:
            raise InvalidArgumentError(f"enable_truncation(): direction must be right or left, not {direction!r}")
        added = self.post_processor.added_tokens(False) if self.post_processor is not None else 0
        if int(max_length) < added:
            raise InvalidArgumentError(f"enable_truncation(): max_length {max_length} leaves no room for the {added} special tokens "
                                       f"the tokenizer adds; use at least {added}")
        if int(max_length) - added < int(stride):
            raise InvalidArgumentError(f"enable_truncation(): stride {stride} is at least the length kept, "
                                       f"{int(max_length) - added} ({max_length} less {added} special tokens); lower the stride")
        self._truncation = {"max_length": int(max_length), "stride": int(stride),
                            "strategy": _STRATEGIES[strategy], "direction": _DIRECTIONS[direction]}

    def no_truncation(self) -> None:
        self._truncation = None

    @property
    def truncation(self):
        return dict(self._truncation) if self._truncation is not None else None

    def enable_padding(self, direction: str = "right", pad_id: int = 0, pad_type_id: int = 0,
                       pad_token: str = "[PAD]", length=None, pad_to_multiple_of=None) -> None:
        if direction not in _DIRECTIONS:
            raise InvalidArgumentError(f"enable_padding(): direction must be right or left, not {direction!r}")
        for name, value in (("pad_id", pad_id), ("pad_type_id", pad_type_id)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise InvalidArgumentError(f"enable_padding(): {name} must be a non-negative integer, not {value!r}")
        for name, value in (("length", length), ("pad_to_multiple_of", pad_to_multiple_of)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
                raise InvalidArgumentError(f"enable_padding(): {name} must be a non-negative integer or None, not {value!r}")
        if not isinstance(pad_token, str):
            raise InvalidArgumentError(f"enable_padding(): pad_token must be a string, not {type(pad_token).__name__}")
        self._padding = {"length": None if length is None else int(length),
                         "pad_to_multiple_of": None if pad_to_multiple_of is None else int(pad_to_multiple_of),
                         "pad_id": int(pad_id), "pad_token": pad_token, "pad_type_id": int(pad_type_id),
                         "direction": _DIRECTIONS[direction]}

    def no_padding(self) -> None:
        self._padding = None

    @property
    def padding(self):
        return dict(self._padding) if self._padding is not None else None

    # -- encoding ------------------------------------------------------------------------------

    def encode(self, sequence: str, pair: str | None = None, add_special_tokens: bool = True) -> Encoding:
        """The encoding of a text, or of a pair of texts, truncated and padded as configured."""
        _check_text(sequence, "encode(): sequence")
        if pair is not None:
            _check_text(pair, "encode(): pair")
        encoding = self._encode(sequence, pair, bool(add_special_tokens))
        if self._padding is not None:
            _pad([encoding], self._padding)
        return encoding

    def encode_batch(self, inputs, add_special_tokens: bool = True) -> list[Encoding]:
        """Encodings of many texts (strings, or (text, pair) tuples), padded together as configured:
        to the longest of the batch unless a padding length is set."""
        items = _batch_items(inputs)
        encodings = [self._encode(first, second, bool(add_special_tokens)) for first, second in items]
        if self._padding is not None:
            _pad(encodings, self._padding)
        return encodings

    def encode_arrays(self, inputs, add_special_tokens: bool = True) -> dict[str, np.ndarray]:
        """``input_ids``, ``attention_mask`` and ``token_type_ids`` as int64 arrays of shape (N, L), L the
        longest encoding of the batch (never a fixed padding length), padded with the pad id (0 if
        padding is not configured). Truncation applies as configured."""
        items = _batch_items(inputs)
        encodings = [self._encode(first, second, bool(add_special_tokens)) for first, second in items]
        pad = self._padding or {}
        length = max((len(e.ids) for e in encodings), default=0)
        multiple = pad.get("pad_to_multiple_of")
        if multiple and length % multiple:
            length += multiple - length % multiple
        count = len(encodings)
        ids = np.full((count, length), pad.get("pad_id", 0), dtype=np.int64)
        mask = np.zeros((count, length), dtype=np.int64)
        types = np.full((count, length), pad.get("pad_type_id", 0), dtype=np.int64)
        left = pad.get("direction") == "left"
        for row, e in enumerate(encodings):
            n = len(e.ids)
            span = slice(length - n, length) if left else slice(0, n)
            ids[row, span] = e.ids
            mask[row, span] = e.attention_mask
            types[row, span] = e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def _encode(self, sequence: str, pair, add_special_tokens: bool) -> Encoding:
        # A long text makes millions of small objects (spans, tokens) that never form cycles; the
        # cycle collector would scan them again and again (a third of the time on a megabyte), so
        # it is paused while one is encoded.
        pause = len(sequence) + len(pair or "") > _LONG_TEXT and gc.isenabled()
        if pause:
            gc.disable()
        try:
            first = self._encode_one(sequence, 0)
            second = self._encode_one(pair, 1) if pair is not None else None
            return self._post_process(first, second, add_special_tokens)
        except (IndexError, KeyError, ValueError, TypeError, AttributeError) as exc:
            # A combination of components and text we did not foresee: say so in one line rather
            # than leak a traceback.
            raise TokenizerError(f"cannot encode {sequence[:40]!r} with this tokenizer.json "
                                 f"({type(exc).__name__}: {exc}); please report it with the file") from None
        finally:
            if pause:
                gc.enable()

    def _encode_one(self, text: str, type_id: int) -> Encoding:
        p = self.added.extract_and_normalize(self.normalizer, text)
        if self.pre_tokenizer is not None:
            self.pre_tokenizer.pre_tokenize(p)
        model = self.model
        for split in p.splits:
            if split[1] is None:
                split[1] = model.tokenize(split[0].normalized)
        return _to_encoding(p, text, type_id)

    def _post_process(self, first: Encoding, second, add_special_tokens: bool) -> Encoding:
        trunc = self._truncation
        if trunc is not None:
            added = 0
            if self.post_processor is not None and add_special_tokens:
                added = self.post_processor.added_tokens(second is not None)
            max_length = trunc["max_length"] - added
            if max_length < 0:
                raise TokenizerError(f"truncation max_length {trunc['max_length']} is shorter than the {added} special "
                                     "tokens the post-processor adds; raise max_length")
            _truncate(first, second, max_length, trunc)
        encodings = [first] if second is None else [first, second]
        if self.post_processor is None:
            return Encoding.merge(encodings)
        for i, e in enumerate(encodings):
            e.type_ids = [i] * len(e.ids)
        return Encoding.merge(self.post_processor.process(encodings, add_special_tokens))

    # -- decoding ------------------------------------------------------------------------------

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        if isinstance(ids, np.ndarray):
            ids = ids.tolist()
        if not isinstance(ids, (list, tuple)):
            raise InvalidArgumentError(f"decode() takes a list of ids, not {type(ids).__name__}")
        tokens = []
        special = self.added.special
        for token_id in ids:
            if isinstance(token_id, bool) or not isinstance(token_id, (int, np.integer)) or token_id < 0:
                raise InvalidArgumentError(f"decode() takes non-negative integer ids, not {token_id!r}")
            token = self.id_to_token(int(token_id))
            if token is None or (skip_special_tokens and token in special):
                continue
            tokens.append(token)
        if self.decoder is None:
            return " ".join(tokens)
        return "".join(self.decoder.decode_chain(tokens))

    def decode_batch(self, sequences, skip_special_tokens: bool = True) -> list[str]:
        if not isinstance(sequences, (list, tuple, np.ndarray)):
            raise InvalidArgumentError(f"decode_batch() takes a list of id lists, not {type(sequences).__name__}")
        return [self.decode(ids, skip_special_tokens) for ids in sequences]


def _check_text(value, where: str) -> None:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{where} must be a string, not {type(value).__name__}")


def _batch_items(inputs) -> list[tuple[str, str | None]]:
    if isinstance(inputs, str) or not isinstance(inputs, (list, tuple)):
        raise InvalidArgumentError(f"encode_batch() takes a list of strings or (text, pair) tuples, not {type(inputs).__name__}")
    items = []
    for position, item in enumerate(inputs):
        if isinstance(item, str):
            items.append((item, None))
        elif isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item):
            items.append((item[0], item[1]))
        else:
            raise InvalidArgumentError(f"encode_batch(): item {position} must be a string or a (text, pair) of two "
                                       f"strings, not {type(item).__name__}")
    return items


def _to_encoding(p, text: str, type_id: int) -> Encoding:
    """The tokens of every piece, their offsets turned from piece positions into input positions."""
    ids, tokens, offsets, words = [], [], [], []
    n_chars = len(text)
    ascii_text = text.isascii()
    for word, (piece, piece_tokens) in enumerate(p.splits):
        shift, starts, ends, n = piece.shift, piece.starts, piece.ends, len(piece.normalized)
        for token_id, value, start, end in piece_tokens:
            if start == end:
                span = (shift + start, shift + end)
            elif start > end or end > n:
                span = (start, end)  # as the Rust library: left in the piece's own positions
            elif starts is None:
                span = (shift + start, shift + end)
            else:
                span = (starts[start], ends[end - 1])
            if span[0] >= n_chars and not ascii_text:
                # The Rust library leaves an offset at the very end in bytes (it has no character there).
                span = (len(text[:span[0]].encode("utf-8")), len(text[:span[1]].encode("utf-8")))
            ids.append(token_id)
            tokens.append(value)
            offsets.append(span)
            words.append(word)
    count = len(ids)
    return Encoding(ids, [type_id] * count, tokens, offsets, words, [0] * count, [1] * count)


def _truncate(first: Encoding, second, max_length: int, params: dict) -> None:
    stride, direction, strategy = params["stride"], params["direction"], params["strategy"]
    if max_length == 0:
        first.truncate(0, stride, direction)
        if second is not None:
            second.truncate(0, stride, direction)
        return
    total = len(first) + (len(second) if second is not None else 0)
    if total <= max_length:
        return
    to_remove = total - max_length
    if strategy == "longest_first":
        if second is None:
            first.truncate(max_length, stride, direction)
            return
        n1, n2 = len(first), len(second)
        swap = n1 > n2
        if swap:
            n1, n2 = n2, n1
        if n1 > max_length:
            n2 = n1
        else:
            n2 = max(n1, max_length - n1)
        if n1 + n2 > max_length:
            n1 = max_length // 2
            n2 = n1 + max_length % 2
        if swap:
            n1, n2 = n2, n1
        first.truncate(n1, stride, direction)
        second.truncate(n2, stride, direction)
        return
    if strategy == "only_second" and second is None:
        raise TokenizerError("truncation strategy only_second needs a pair of texts; use longest_first for single texts")
    target = first if strategy == "only_first" else second
    if len(target) > to_remove:
        target.truncate(len(target) - to_remove, stride, direction)
    else:
        raise TokenizerError(f"truncation: the {'first' if strategy == 'only_first' else 'second'} text is too short "
                             f"to remove {to_remove} tokens from; use longest_first or a larger max_length")


def _pad(encodings: list[Encoding], params: dict) -> None:
    if not encodings:
        return
    length = params["length"]
    if length is None:
        length = max(len(e.ids) for e in encodings)
    multiple = params["pad_to_multiple_of"]
    if multiple and length % multiple:
        length += multiple - length % multiple
    for e in encodings:
        e.pad(length, params["pad_id"], params["pad_type_id"], params["pad_token"], params["direction"])
