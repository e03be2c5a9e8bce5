"""Normalizers: the tokenizer.json ``normalizer`` section, each changing a ``NormalizedString`` in place."""

from __future__ import annotations

import re
from functools import lru_cache

from .chars import WHITE_SPACE, category_ranges, ranges_to_class_body
from .normalized import NormalizedString
from .bytelevel import to_byte_level
from .patterns import pattern_from_config
from .precompiled import Precompiled
from .registry import Registry, get

NORMALIZERS = Registry("normalizer")


def build_normalizer(config):
    return NORMALIZERS.build(config)


@lru_cache(maxsize=None)
def _category_chars(*names: str) -> re.Pattern:
    """One character of the given general categories."""
    ranges = []
    for name in names:
        ranges += category_ranges(name) or []
    return re.compile("[" + ranges_to_class_body(sorted(ranges)) + "]")


@lru_cache(maxsize=1)
def _bert_unwanted() -> re.Pattern:
    """What clean_text removes: NUL, U+FFFD and the Cc/Cf/Co/Cs characters other than tab, LF, CR."""
    ranges = []
    for name in ("Cc", "Cf", "Co", "Cs"):
        ranges += category_ranges(name) or []
    body = ranges_to_class_body(sorted(ranges))
    return re.compile(f"(?![\\t\\n\\r])[{body}\\ufffd]")


_OTHER_SPACES = re.compile("[" + "".join(sorted(WHITE_SPACE - {" "})) + "]")
_TO_SPACE = {ord(c): " " for c in WHITE_SPACE}
_CJK = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002a6df\U0002a700-\U0002b73f\U0002b740-\U0002b81f"
                  "\U0002b920-\U0002ceaf\uf900-\ufaff\U0002f800-\U0002fa1f]")


@NORMALIZERS.register("BertNormalizer")
class BertNormalizer:
    def __init__(self, clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True):
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        # Not given means "as lowercase does": uncased BERT strips accents, cased BERT keeps them.
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.lowercase = lowercase

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "clean_text", True, bool), get(c, "handle_chinese_chars", True, bool),
                   get(c, "strip_accents", None, bool), get(c, "lowercase", True, bool))

    def normalize(self, n: NormalizedString) -> None:
        if self.clean_text:
            if not n.normalized.isascii() or not n.normalized.isprintable():
                n.remove_matches(_bert_unwanted())
            if _OTHER_SPACES.search(n.normalized):
                n.replace_one_to_one(n.normalized.translate(_TO_SPACE))
        if self.handle_chinese_chars and not n.normalized.isascii():
            # Spaces around each ideograph, both standing for the ideograph itself.
            n.edit([(m.start(), m.end(), ((" ", 0), (m.group(), 1), (" ", 1)), 0) for m in _CJK.finditer(n.normalized)])
        if self.strip_accents:
            n.unicode_normalize("NFD")
            if not n.normalized.isascii():
                n.remove_matches(_category_chars("Mn"))
        if self.lowercase:
            n.lowercase()


@NORMALIZERS.register("Lowercase")
class Lowercase:
    @classmethod
    def from_config(cls, c):
        return cls()

    def normalize(self, n: NormalizedString) -> None:
        n.lowercase()


class _Unicode:
    form = ""

    @classmethod
    def from_config(cls, c):
        return cls()

    def normalize(self, n: NormalizedString) -> None:
        n.unicode_normalize(self.form)


@NORMALIZERS.register("NFD")
class NFD(_Unicode):
    form = "NFD"


@NORMALIZERS.register("NFKD")
class NFKD(_Unicode):
    form = "NFKD"


@NORMALIZERS.register("NFC")
class NFC(_Unicode):
    form = "NFC"


@NORMALIZERS.register("NFKC")
class NFKC(_Unicode):
    form = "NFKC"


@NORMALIZERS.register("Strip")
class Strip:
    def __init__(self, left: bool, right: bool):
        self.left, self.right = left, right

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "strip_left", True, bool), get(c, "strip_right", True, bool))

    def normalize(self, n: NormalizedString) -> None:
        n.strip(self.left, self.right)


@NORMALIZERS.register("StripAccents")
class StripAccents:
    """Removes every combining mark (Mn, Mc, Me), usually after NFD or NFKD."""

    @classmethod
    def from_config(cls, c):
        return cls()

    def normalize(self, n: NormalizedString) -> None:
        if not n.normalized.isascii():
            n.remove_matches(_category_chars("Mn", "Mc", "Me"))


@NORMALIZERS.register("Replace")
class Replace:
    def __init__(self, regex, content: str):
        self.regex = regex
        self.content = content

    @classmethod
    def from_config(cls, c):
        return cls(pattern_from_config(c["pattern"], "Replace normalizer"), get(c, "content", "", str))

    def normalize(self, n: NormalizedString) -> None:
        spans = [m.span() for m in self.regex.finditer(n.normalized)]
        n.replace_matches(spans, self.content)


@NORMALIZERS.register("Prepend")
class Prepend:
    def __init__(self, prepend: str):
        self.prepend = prepend

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "prepend", "", str))

    def normalize(self, n: NormalizedString) -> None:
        if n.normalized:
            n.prepend(self.prepend)


# Nmt: drop some control characters and turn the rest of the spacing ones into plain spaces.
_NMT_DROP = re.compile("[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]")
_NMT_SPACE = {cp: " " for cp in [0x09, 0x0A, 0x0C, 0x0D, 0x1680, *range(0x200B, 0x2010), 0x2028, 0x2029,
                                  0x2581, 0xFEFF, 0xFFFD]}


@NORMALIZERS.register("Nmt")
class Nmt:
    @classmethod
    def from_config(cls, c):
        return cls()

    def normalize(self, n: NormalizedString) -> None:
        n.remove_matches(_NMT_DROP)
        n.replace_one_to_one(n.normalized.translate(_NMT_SPACE))


@NORMALIZERS.register("ByteLevel")
class ByteLevelNormalizer:
    @classmethod
    def from_config(cls, c):
        return cls()

    def normalize(self, n: NormalizedString) -> None:
        if n.normalized:
            to_byte_level(n)


@NORMALIZERS.register("Sequence")
class Sequence:
    def __init__(self, items):
        self.items = items

    @classmethod
    def from_config(cls, c):
        items = get(c, "normalizers", [], list)
        return cls([NORMALIZERS.build(item) for item in items if item is not None])

    def normalize(self, n: NormalizedString) -> None:
        for item in self.items:
            item.normalize(n)


# The Precompiled normalizer lives in its own module, as it carries a trie format of its own.
NORMALIZERS.register("Precompiled")(Precompiled)
