"""Character classes the tokenizer components test, defined as the Rust ``tokenizers`` library defines them.

Python's own predicates differ in small ways that change ids (``str.isspace`` counts U+001C..U+001F as
space, ``re``'s ``\\w`` leaves out combining marks), so each class here follows the Unicode property the
Rust code uses, read from ``unicodedata``. The Unicode version is that of the running Python (14 on
CPython 3.11, 15 on Pyodide's 3.12): characters assigned after that are where we may differ.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_category = unicodedata.category

# Rust's char::is_whitespace: the White_Space property (not str.isspace, which adds U+001C..U+001F).
WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def is_whitespace(c: str) -> bool:
    return c in WHITE_SPACE


def is_punctuation(c: str) -> bool:
    """BERT's and the Punctuation pre-tokenizer's test: ASCII punctuation and symbols, or any P* character."""
    return c in _ASCII_PUNCTUATION or _category(c)[0] == "P"


def is_numeric(c: str) -> bool:
    """Rust's char::is_numeric: the Nd, Nl and No categories."""
    return _category(c) in ("Nd", "Nl", "No")


def is_mark(c: str) -> bool:
    return _category(c)[0] == "M"


def is_control_other(c: str) -> bool:
    """BertNormalizer's control test: Cc, Cf, Co and Cs, but not unassigned code points."""
    return _category(c) in ("Cc", "Cf", "Co", "Cs")


# ---------------------------------------------------------------------------------------------
# Code point sets as regular-expression classes, for translating the Oniguruma / Rust-regex
# patterns of tokenizer.json into Python's ``re``.

# Planes 4..13 hold no assigned characters and planes 15..16 only private use, so one pass over
# the first four planes and plane 14 sees every category but Co there.
_SCAN_RANGES = ((0, 0x40000), (0xE0000, 0xE1000))
_PRIVATE_PLANES = ((0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))


@lru_cache(maxsize=1)
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    ranges: dict[str, list[tuple[int, int]]] = {}
    for lo, hi in _SCAN_RANGES:
        start, current = lo, _category(chr(lo))
        for cp in range(lo + 1, hi):
            cat = _category(chr(cp))
            if cat != current:
                ranges.setdefault(current, []).append((start, cp - 1))
                start, current = cp, cat
        ranges.setdefault(current, []).append((start, hi - 1))
    ranges.setdefault("Co", []).extend(_PRIVATE_PLANES)
    return ranges


_CATEGORY_NAMES = {
    "L": "L", "Letter": "L", "Lu": "Lu", "Uppercase_Letter": "Lu", "Ll": "Ll", "Lowercase_Letter": "Ll",
    "Lt": "Lt", "Titlecase_Letter": "Lt", "Lm": "Lm", "Modifier_Letter": "Lm", "Lo": "Lo", "Other_Letter": "Lo",
    "M": "M", "Mark": "M", "Combining_Mark": "M", "Mn": "Mn", "Nonspacing_Mark": "Mn", "Mc": "Mc",
    "Spacing_Mark": "Mc", "Me": "Me", "Enclosing_Mark": "Me",
    "N": "N", "Number": "N", "Nd": "Nd", "Decimal_Number": "Nd", "Digit": "Nd", "Nl": "Nl", "Letter_Number": "Nl",
    "No": "No", "Other_Number": "No",
    "P": "P", "Punctuation": "P", "Pc": "Pc", "Connector_Punctuation": "Pc", "Pd": "Pd", "Dash_Punctuation": "Pd",
    "Ps": "Ps", "Open_Punctuation": "Ps", "Pe": "Pe", "Close_Punctuation": "Pe", "Pi": "Pi",
    "Initial_Punctuation": "Pi", "Pf": "Pf", "Final_Punctuation": "Pf", "Po": "Po", "Other_Punctuation": "Po",
    "S": "S", "Symbol": "S", "Sm": "Sm", "Math_Symbol": "Sm", "Sc": "Sc", "Currency_Symbol": "Sc",
    "Sk": "Sk", "Modifier_Symbol": "Sk", "So": "So", "Other_Symbol": "So",
    "Z": "Z", "Separator": "Z", "Zs": "Zs", "Space_Separator": "Zs", "Zl": "Zl", "Line_Separator": "Zl",
    "Zp": "Zp", "Paragraph_Separator": "Zp",
    "C": "C", "Other": "C", "Cc": "Cc", "Control": "Cc", "Cntrl": "Cc", "Cf": "Cf", "Format": "Cf",
    "Co": "Co", "Private_Use": "Co", "Cs": "Cs", "Surrogate": "Cs", "Cn": "Cn", "Unassigned": "Cn",
}


def category_ranges(name: str) -> list[tuple[int, int]] | None:
    """The code point ranges of a general category (``L``, ``Lu``, ``Letter``...), or None if unknown."""
    short = _CATEGORY_NAMES.get(name)
    if short is None:
        return None
    table = _category_ranges()
    if len(short) == 2:
        found = list(table.get(short, []))
        if short == "Cn":
            found = _complement(_merge(r for cat, rs in table.items() if cat != "Cn" for r in rs))
    else:
        found = [r for cat, rs in table.items() if cat[0] == short and cat != "Cn" for r in rs]
        if short == "C":
            found += category_ranges("Cn") or []
    return _merge(found)


def _merge(ranges) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, start = [], 0
    for lo, hi in _merge(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= 0x10FFFF:
        out.append((start, 0x10FFFF))
    return out


def _cp(value: int) -> list[tuple[int, int]]:
    return [(value, value)]


@lru_cache(maxsize=None)
def shorthand_ranges(letter: str) -> tuple[tuple[int, int], ...]:
    """What ``\\s``, ``\\d`` and ``\\w`` match in the Rust regex crate (Unicode mode): White_Space;
    Decimal_Number; and Alphabetic, marks, decimal digits, connector punctuation and the joiners
    (Alphabetic is the letters, Nl, and the letter-like symbols of Other_Alphabetic). ``w_onig`` is
    Oniguruma's ``\\w``, which differs in a few characters (checked against it character by character)."""
    if letter == "s":
        return tuple(_merge((ord(c), ord(c)) for c in WHITE_SPACE))
    if letter == "d":
        return tuple(category_ranges("Nd") or [])
    if letter in ("w", "w_onig"):
        parts = []
        for name in ("L", "M", "Nd", "Nl", "Pc"):
            parts += category_ranges(name) or []
        # The circled and squared Latin letters: So, yet Other_Alphabetic.
        parts += [(0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189)]
        if letter == "w":
            parts.append((0x200C, 0x200D))  # the Rust regex crate counts the joiners as word characters
        else:
            # Oniguruma does not, but counts the Latin-1 superscripts and fractions (its Latin-1 table).
            parts += [(0xB2, 0xB3), (0xB9, 0xB9), (0xBC, 0xBE)]
        return tuple(_merge(parts))
    raise ValueError(letter)


def ranges_to_class_body(ranges) -> str:
    """The inside of a ``[...]`` class matching exactly these code point ranges."""
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_escape_class_char(lo))
        else:
            parts.append(f"{_escape_class_char(lo)}-{_escape_class_char(hi)}")
    return "".join(parts)


def _escape_class_char(cp: int) -> str:
    if cp < 0x80 and chr(cp).isalnum():
        return chr(cp)
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


@lru_cache(maxsize=None)
def word_set() -> frozenset[str]:
    """Characters ``\\w`` matches (Unicode), as a set for single-character tests."""
    return frozenset(chr(c) for lo, hi in shorthand_ranges("w") for c in range(lo, hi + 1))


def is_word_char(c: str) -> bool:
    """``\\w`` of the Rust regex crate, for one character."""
    if c < "\x80":
        return c.isalnum() or c == "_"
    return c in word_set()


# ---------------------------------------------------------------------------------------------
# Extended grapheme clusters (UAX #29), for the Precompiled normalizer, which treats a cluster of
# under six UTF-8 bytes as one unit. Only short clusters matter there, so the rules for emoji ZWJ
# sequences (always longer) are left out; the rest follow the standard.

_OTHER, _CR, _LF, _CONTROL, _EXTEND, _ZWJ, _RI, _PREPEND, _SPACING, _L, _V, _T, _LV, _LVT = range(14)

_PREPEND_CPS = frozenset(
    [*range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0xD4E, 0x110BD, 0x110CD, 0x111C2, 0x111C3,
     0x1193F, 0x11941, 0x11A3A, *range(0x11A84, 0x11A8A), 0x11D46]
)
# Spacing marks that are nevertheless Grapheme_Extend (Other_Grapheme_Extend), and other Extend characters
# outside the Mn/Me categories.
_EXTRA_EXTEND = frozenset(
    [0x9BE, 0x9D7, 0xB3E, 0xB57, 0xBBE, 0xBD7, 0xCC2, 0xCD5, 0xCD6, 0xD3E, 0xD57, 0xDCF, 0xDDF, 0x1B35,
     0x200C, 0x302E, 0x302F, 0xFF9E, 0xFF9F, 0x1133E, 0x11357, 0x114B0, 0x114BD, 0x115AF, 0x11930,
     0x1D165, *range(0x1D16E, 0x1D173), *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)]
)
# Spacing marks that do not keep to the previous character (Grapheme_Cluster_Break is not SpacingMark).
_NOT_SPACING = frozenset([0x102B, 0x102C, 0x1038, 0x1062, 0x1063, 0x1067, 0x1068, 0x1069, 0x106A, 0x106B,
                          0x106C, 0x106D, 0x1083, 0x1087, 0x1088, 0x1089, 0x108A, 0x108B, 0x108C, 0x108F,
                          0x109A, 0x109B, 0x109C, 0x1A61, 0x1A63, 0x1A64, 0xAA7B, 0xAA7D, 0x11720, 0x11721])


def _break_class(c: str) -> int:
    cp = ord(c)
    if cp < 0x7F:
        if cp == 0x0D:
            return _CR
        if cp == 0x0A:
            return _LF
        return _CONTROL if cp < 0x20 else _OTHER
    if cp == 0x200D:
        return _ZWJ
    if cp in _EXTRA_EXTEND:
        return _EXTEND
    if cp in _PREPEND_CPS:
        return _PREPEND
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    if 0x1100 <= cp <= 0x11FF or 0xA960 <= cp <= 0xA97C or 0xD7B0 <= cp <= 0xD7FB:
        if cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
            return _L
        if cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
            return _V
        return _T
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    cat = _category(c)
    if cat in ("Mn", "Me"):
        return _EXTEND
    if cat == "Mc":
        return _OTHER if cp in _NOT_SPACING else _SPACING
    if cp in (0xE33, 0xEB3):
        return _SPACING
    if cat in ("Cc", "Zl", "Zp") or (cat == "Cf" and cp not in (0x200C, 0x200D)):
        return _CONTROL
    return _OTHER


def _joins(prev: int, cur: int, ri_run: int) -> bool:
    if prev == _CR and cur == _LF:
        return True
    if prev in (_CONTROL, _CR, _LF) or cur in (_CONTROL, _CR, _LF):
        return False
    if prev == _L and cur in (_L, _V, _LV, _LVT):
        return True
    if prev in (_LV, _V) and cur in (_V, _T):
        return True
    if prev in (_LVT, _T) and cur == _T:
        return True
    if cur in (_EXTEND, _ZWJ, _SPACING):
        return True
    if prev == _PREPEND:
        return True
    if prev == _RI and cur == _RI:
        return ri_run % 2 == 1
    return False


def graphemes(text: str):
    """Yield ``(start, end)`` character spans of the extended grapheme clusters of ``text``."""
    n = len(text)
    if n == 0:
        return
    start = 0
    prev = _break_class(text[0])
    ri_run = 1 if prev == _RI else 0
    for i in range(1, n):
        cur = _break_class(text[i])
        if not _joins(prev, cur, ri_run):
            yield start, i
            start = i
        ri_run = ri_run + 1 if cur == _RI else 0
        prev = cur
    yield start, n
