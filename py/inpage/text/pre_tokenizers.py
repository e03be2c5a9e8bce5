"""Pre-tokenizers: the tokenizer.json ``pre_tokenizer`` section, cutting the text into words for the model."""

from __future__ import annotations

import re
from functools import lru_cache

from .chars import WHITE_SPACE, _ASCII_PUNCTUATION, category_ranges, ranges_to_class_body
from .normalized import (BEHAVIORS, CONTIGUOUS, ISOLATED, MERGED_WITH_NEXT, REMOVED, NormalizedString,
                         PreTokenizedString)
from .bytelevel import GPT2_PATTERN, to_byte_level
from .patterns import compile_pattern, literal_pattern, pattern_from_config
from .registry import Registry, get

PRE_TOKENIZERS = Registry("pre-tokenizer")


def build_pre_tokenizer(config):
    return PRE_TOKENIZERS.build(config)


# One-character classes, each match a single character (a run of three spaces is three matches),
# as the Rust library's character predicates split.
_WHITESPACE_CHAR = re.compile("[" + re.escape("".join(sorted(WHITE_SPACE))) + "]")


@lru_cache(maxsize=1)
def _punctuation_char() -> re.Pattern:
    body = ranges_to_class_body(category_ranges("P") or [])
    return re.compile("[" + body + re.escape("".join(sorted(_ASCII_PUNCTUATION))) + "]")


@lru_cache(maxsize=1)
def _space_or_punctuation() -> re.Pattern:
    body = ranges_to_class_body(category_ranges("P") or [])
    return re.compile("[" + body + re.escape("".join(sorted(_ASCII_PUNCTUATION | WHITE_SPACE))) + "]")


@lru_cache(maxsize=1)
def _numeric_char() -> re.Pattern:
    ranges = []
    for name in ("Nd", "Nl", "No"):
        ranges += category_ranges(name) or []
    return re.compile("[" + ranges_to_class_body(sorted(ranges)) + "]")


def _behavior(c: dict, default: str | None = None) -> str:
    value = c.get("behavior", default)
    if value not in BEHAVIORS:
        raise ValueError(f"'behavior' must be one of {', '.join(BEHAVIORS)}, not {value!r}")
    return value


@PRE_TOKENIZERS.register("BertPreTokenizer")
class BertPreTokenizer:
    @classmethod
    def from_config(cls, c):
        return cls()

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        # Split on whitespace (dropped), then on punctuation (kept, one character a piece): done in
        # one pass, which cuts the same pieces.
        regex = _space_or_punctuation()

        def split(_i, n: NormalizedString):
            text = n.normalized
            if regex.search(text) is None:
                return n.whole()
            spans, prev = [], 0
            for m in regex.finditer(text):
                s = m.start()
                if prev != s:
                    spans.append((prev, s))
                if text[s] not in WHITE_SPACE:
                    spans.append((s, s + 1))
                prev = s + 1
            if prev != len(text):
                spans.append((prev, len(text)))
            return [n.slice(a, b) for a, b in spans]

        p.split(split)


@PRE_TOKENIZERS.register("Whitespace")
class Whitespace:
    @classmethod
    def from_config(cls, c):
        return cls()

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        words = compile_pattern(r"\w+|[^\w\s]+", "Whitespace", "rust")
        p.split(lambda _i, n: n.split_by(words, REMOVED, invert=True))


@PRE_TOKENIZERS.register("WhitespaceSplit")
class WhitespaceSplit:
    @classmethod
    def from_config(cls, c):
        return cls()

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        p.split(lambda _i, n: n.split_by(_WHITESPACE_CHAR, REMOVED))


@PRE_TOKENIZERS.register("CharDelimiterSplit", "Delimiter")
class CharDelimiterSplit:
    def __init__(self, delimiter: str):
        self.regex = literal_pattern(delimiter)

    @classmethod
    def from_config(cls, c):
        delimiter = get(c, "delimiter", None, str)
        if delimiter is None or len(delimiter) != 1:
            raise ValueError("'delimiter' must be one character")
        return cls(delimiter)

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        p.split(lambda _i, n: n.split_by(self.regex, REMOVED))


@PRE_TOKENIZERS.register("Punctuation")
class Punctuation:
    def __init__(self, behavior: str):
        self.behavior = behavior

    @classmethod
    def from_config(cls, c):
        return cls(_behavior(c, ISOLATED))

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        punctuation = _punctuation_char()
        p.split(lambda _i, n: n.split_by(punctuation, self.behavior))


@PRE_TOKENIZERS.register("Digits")
class Digits:
    def __init__(self, individual_digits: bool):
        self.behavior = ISOLATED if individual_digits else CONTIGUOUS

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "individual_digits", False, bool))

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        numeric = _numeric_char()
        p.split(lambda _i, n: n.split_by(numeric, self.behavior))


@PRE_TOKENIZERS.register("Split")
class Split:
    def __init__(self, regex, behavior: str, invert: bool):
        self.regex, self.behavior, self.invert = regex, behavior, invert

    @classmethod
    def from_config(cls, c):
        return cls(pattern_from_config(c["pattern"], "Split pre-tokenizer"), _behavior(c), get(c, "invert", False, bool))

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        p.split(lambda _i, n: n.split_by(self.regex, self.behavior, self.invert))


@PRE_TOKENIZERS.register("FixedLength")
class FixedLength:
    def __init__(self, length: int):
        self.length = length

    @classmethod
    def from_config(cls, c):
        length = get(c, "length", 5, int)
        if length < 1:
            raise ValueError("'length' must be at least 1")
        return cls(length)

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        size = self.length
        p.split(lambda _i, n: [n.slice(s, min(s + size, len(n))) for s in range(0, len(n), size)])


@PRE_TOKENIZERS.register("Metaspace")
class Metaspace:
    """Spaces become the replacement character (``▁``), one is put before the text as the scheme
    says, and words start at each replacement character."""

    def __init__(self, replacement: str, prepend_scheme: str, split: bool):
        self.replacement = replacement
        self.prepend_scheme = prepend_scheme
        self.split = split
        self.regex = literal_pattern(replacement)

    @classmethod
    def from_config(cls, c):
        replacement = get(c, "replacement", "\u2581", str)
        if len(replacement) != 1:
            raise ValueError("'replacement' must be one character")
        scheme = get(c, "prepend_scheme", None, str)
        if get(c, "add_prefix_space", None, bool) is False:
            if scheme not in (None, "never"):
                raise ValueError("add_prefix_space false does not match prepend_scheme " + repr(scheme))
            scheme = "never"
        scheme = scheme or "always"
        if scheme not in ("always", "first", "never"):
            raise ValueError(f"'prepend_scheme' must be always, first or never, not {scheme!r}")
        return cls(replacement, scheme, get(c, "split", True, bool))

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        p.split(self._split)

    def _split(self, _i: int, n: NormalizedString):
        rep = self.replacement
        if " " in n.normalized:
            n.replace_one_to_one(n.normalized.replace(" ", rep))
        if not n.normalized.startswith(rep):
            if self.prepend_scheme == "always" or (self.prepend_scheme == "first" and n.shift == 0):
                n.prepend(rep)
        if self.split:
            if n.normalized.find(rep, 1) < 0:
                return n.whole()  # no replacement character past the first: one word
            return n.split_by(self.regex, MERGED_WITH_NEXT)
        return [n]

    def decode_chain(self, tokens: list[str]) -> list[str]:
        rep = self.replacement
        out = []
        for i, token in enumerate(tokens):
            if i == 0 and self.prepend_scheme != "never":
                out.append(token.replace(rep, ""))
            else:
                out.append(token.replace(rep, " "))
        return out


@PRE_TOKENIZERS.register("ByteLevel")
class ByteLevel:
    def __init__(self, add_prefix_space: bool = True, trim_offsets: bool = True, use_regex: bool = True):
        self.add_prefix_space = add_prefix_space
        self.trim_offsets = trim_offsets
        self.use_regex = use_regex

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "add_prefix_space", True, bool), get(c, "trim_offsets", True, bool),
                   get(c, "use_regex", True, bool))

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        regex = compile_pattern(GPT2_PATTERN, "ByteLevel") if self.use_regex else None

        def split(_i, n: NormalizedString):
            if self.add_prefix_space and not n.normalized.startswith(" "):
                n.prepend(" ")
            if regex is None:
                return [n]
            return n.split_by(regex, ISOLATED)

        p.split(split)
        p.normalize(to_byte_level)


@PRE_TOKENIZERS.register("Sequence")
class Sequence:
    def __init__(self, items):
        self.items = items

    @classmethod
    def from_config(cls, c):
        items = get(c, "pretokenizers", [], list)
        return cls([PRE_TOKENIZERS.build(item) for item in items if item is not None])

    def pre_tokenize(self, p: PreTokenizedString) -> None:
        for item in self.items:
            item.pre_tokenize(p)
