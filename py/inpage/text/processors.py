"""Post-processors: the tokenizer.json ``post_processor`` section, adding special tokens ([CLS], </s>...)
around the encoded text or pair, setting type ids, and trimming byte-level offsets."""

from __future__ import annotations

from .chars import WHITE_SPACE
from .encoding import Encoding
from .registry import Registry, get

PROCESSORS = Registry("post-processor")


def build_processor(config):
    return PROCESSORS.build(config)


def _pair(value, name: str) -> tuple[str, int]:
    if (not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], str)
            or not isinstance(value[1], int) or isinstance(value[1], bool)):
        raise ValueError(f"{name!r} must be [token, id], not {value!r}")
    return value[0], value[1]


def trim_byte_level_offsets(encoding: Encoding, add_prefix_space: bool) -> None:
    """Move each token's offsets past the spaces its byte-level string starts or ends with
    (``Ġ`` is the byte-level space), except a first token's single space that was added."""
    space = "\u0120"
    offsets = encoding.offsets
    for i, token in enumerate(encoding.tokens):
        if not token or (token[0] != space and token[0] not in WHITE_SPACE
                         and token[-1] != space and token[-1] not in WHITE_SPACE):
            continue
        lead = 0
        while lead < len(token) and (token[lead] == space or token[lead] in WHITE_SPACE):
            lead += 1
        trail = 0
        while trail < len(token) and (token[-1 - trail] == space or token[-1 - trail] in WHITE_SPACE):
            trail += 1
        start, end = offsets[i]
        if lead:
            if (i == 0 or start == 0) and add_prefix_space and lead == 1:
                lead = 0
            start = min(start + lead, end)
        if trail and end >= trail:
            end = max(end - trail, start)
        offsets[i] = (start, end)


def _with_special(encoding: Encoding, first: tuple[str, int] | None, last: tuple[str, int], type_id: int) -> Encoding:
    parts = []
    if first is not None:
        parts.append(Encoding.special([first[1]], [first[0]], type_id))
    parts.append(encoding)
    parts.append(Encoding.special([last[1]], [last[0]], type_id))
    return Encoding.merge(parts)


@PROCESSORS.register("BertProcessing")
class BertProcessing:
    def __init__(self, sep, cls_):
        self.sep, self.cls = sep, cls_

    @classmethod
    def from_config(cls, c):
        return cls(_pair(c.get("sep", ["[SEP]", 102]), "sep"), _pair(c.get("cls", ["[CLS]", 101]), "cls"))

    def added_tokens(self, is_pair: bool) -> int:
        return 3 if is_pair else 2

    def process(self, encodings: list[Encoding], add_special_tokens: bool) -> list[Encoding]:
        if not add_special_tokens:
            return encodings
        out = [_with_special(encodings[0], self.cls, self.sep, 0)]
        if len(encodings) > 1:
            out.append(_with_special(encodings[1], None, self.sep, 1))
        return out


@PROCESSORS.register("RobertaProcessing")
class RobertaProcessing:
    def __init__(self, sep, cls_, trim_offsets: bool, add_prefix_space: bool):
        self.sep, self.cls = sep, cls_
        self.trim_offsets, self.add_prefix_space = trim_offsets, add_prefix_space

    @classmethod
    def from_config(cls, c):
        return cls(_pair(c.get("sep", ["</s>", 2]), "sep"), _pair(c.get("cls", ["<s>", 0]), "cls"),
                   get(c, "trim_offsets", True, bool), get(c, "add_prefix_space", True, bool))

    def added_tokens(self, is_pair: bool) -> int:
        return 4 if is_pair else 2

    def process(self, encodings: list[Encoding], add_special_tokens: bool) -> list[Encoding]:
        if self.trim_offsets:
            for e in encodings:
                trim_byte_level_offsets(e, self.add_prefix_space)
        for e in encodings:
            e.type_ids = [0] * len(e.ids)
        if not add_special_tokens:
            return encodings
        out = [_with_special(encodings[0], self.cls, self.sep, 0)]
        if len(encodings) > 1:
            out.append(_with_special(encodings[1], self.sep, self.sep, 0))
        return out


@PROCESSORS.register("ByteLevel")
class ByteLevelProcessing:
    def __init__(self, trim_offsets: bool, add_prefix_space: bool):
        self.trim_offsets, self.add_prefix_space = trim_offsets, add_prefix_space

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "trim_offsets", True, bool), get(c, "add_prefix_space", True, bool))

    def added_tokens(self, is_pair: bool) -> int:
        return 0

    def process(self, encodings: list[Encoding], add_special_tokens: bool) -> list[Encoding]:
        if self.trim_offsets:
            for e in encodings:
                trim_byte_level_offsets(e, self.add_prefix_space)
        return encodings


@PROCESSORS.register("TemplateProcessing")
class TemplateProcessing:
    """``single`` and ``pair`` templates: pieces ``{"Sequence": {"id": "A"|"B", "type_id": n}}`` and
    ``{"SpecialToken": {"id": name, "type_id": n}}``, the names resolved in ``special_tokens``."""

    def __init__(self, single, pair, special_tokens):
        self.single, self.pair, self.special_tokens = single, pair, special_tokens
        self.added_single = self._count(single)
        self.added_pair = self._count(pair)

    @classmethod
    def from_config(cls, c):
        special = {}
        for name, value in (c.get("special_tokens") or {}).items():
            ids, tokens = value.get("ids"), value.get("tokens")
            if not isinstance(ids, list) or not isinstance(tokens, list) or len(ids) != len(tokens):
                raise ValueError(f"special token {name!r} needs ids and tokens of the same length")
            special[name] = (list(ids), list(tokens))
        single = cls._template(c.get("single") or [], special)
        pair = cls._template(c.get("pair") or [], special)
        return cls(single, pair, special)

    @staticmethod
    def _template(pieces, special) -> list[tuple[str, str, int]]:
        out = []
        for piece in pieces:
            if not isinstance(piece, dict) or len(piece) != 1:
                raise ValueError(f"template piece {piece!r} must be {{\"Sequence\": ...}} or {{\"SpecialToken\": ...}}")
            (kind, body), = piece.items()
            type_id = body.get("type_id", 0)
            if kind == "Sequence":
                if body.get("id") not in ("A", "B"):
                    raise ValueError(f"template sequence id must be A or B, not {body.get('id')!r}")
                out.append(("seq", body["id"], type_id))
            elif kind == "SpecialToken":
                if body.get("id") not in special:
                    raise ValueError(f"template uses special token {body.get('id')!r}, missing from special_tokens")
                out.append(("special", body["id"], type_id))
            else:
                raise ValueError(f"template piece kind must be Sequence or SpecialToken, not {kind!r}")
        return out

    def _count(self, template) -> int:
        return sum(len(self.special_tokens[name][0]) for kind, name, _t in template if kind == "special")

    def added_tokens(self, is_pair: bool) -> int:
        return self.added_pair if is_pair else self.added_single

    def process(self, encodings: list[Encoding], add_special_tokens: bool) -> list[Encoding]:
        template = self.pair if len(encodings) == 2 else self.single
        out = []
        for kind, name, type_id in template:
            if kind == "seq":
                index = 0 if name == "A" else 1
                if index >= len(encodings):
                    continue
                e = encodings[index].copy()
                e.type_ids = [type_id] * len(e.ids)
                out.append(e)
            elif add_special_tokens:
                ids, tokens = self.special_tokens[name]
                out.append(Encoding.special(ids, tokens, type_id))
        return out


@PROCESSORS.register("Sequence")
class Sequence:
    def __init__(self, items):
        self.items = items

    @classmethod
    def from_config(cls, c):
        return cls([PROCESSORS.build(item) for item in get(c, "processors", [], list) if item is not None])

    def added_tokens(self, is_pair: bool) -> int:
        return sum(item.added_tokens(is_pair) for item in self.items)

    def process(self, encodings: list[Encoding], add_special_tokens: bool) -> list[Encoding]:
        for item in self.items:
            encodings = item.process(encodings, add_special_tokens)
        return encodings
