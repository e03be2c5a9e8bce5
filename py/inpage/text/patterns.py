"""Regular expressions of tokenizer.json (Oniguruma syntax) run with Python's ``re``.

tokenizer.json patterns are written for Oniguruma: ``\\p{L}``, ``\\p{N}`` and Unicode-wide ``\\s``,
``\\d``, ``\\w``. Python's ``re`` has no ``\\p{..}`` and its shorthands differ, so the pattern is
rewritten with explicit code point classes built from ``unicodedata`` (see ``chars``); everything
else (groups, look-around, possessive quantifiers) ``re`` reads as Oniguruma does. A construct with
no ``re`` equivalent raises ``TokenizerError`` naming it, rather than matching something else.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..errors import TokenizerError
from .chars import _complement, category_ranges, ranges_to_class_body, shorthand_ranges

_SHORTHANDS = frozenset("sSdDwW")


@lru_cache(maxsize=64)
def compile_pattern(pattern: str, where: str = "pattern", flavor: str = "onig") -> re.Pattern:
    """Compile a pattern from tokenizer.json (``flavor`` onig), or one the Rust library writes for the
    Rust regex crate (``rust``); ``where`` names it in errors."""
    translated = translate(pattern, where, flavor)
    try:
        return re.compile(translated)
    except re.error as exc:
        raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} cannot be used here ({exc}); "
                             "only patterns Python's re can express are supported") from None


def literal_pattern(text: str) -> re.Pattern:
    return re.compile(re.escape(text))


def _property_ranges(name: str, pattern: str, where: str):
    negate = name.startswith("^")
    if negate:
        name = name[1:]
    ranges = category_ranges(name)
    if ranges is None:
        raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} uses \\p{{{name}}}, which is not "
                             "supported (general categories such as L, N, P, Lu are)")
    return ranges, negate


def translate(pattern: str, where: str = "pattern", flavor: str = "onig") -> str:
    word = "w_onig" if flavor == "onig" else "w"

    def shorthand(letter: str):
        letter = letter.lower()
        return shorthand_ranges(word if letter == "w" else letter)

    out: list[str] = []
    i, n = 0, len(pattern)

    def read_property(j: int) -> tuple[str, int]:
        # j points just after \p / \P
        if j < n and pattern[j] == "{":
            close = pattern.find("}", j)
            if close < 0:
                raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} has an unclosed \\p{{")
            return pattern[j + 1:close], close + 1
        if j < n:
            return pattern[j], j + 1
        raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} ends in \\p")

    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            if e in "pP":
                name, i = read_property(i + 2)
                ranges, negate = _property_ranges(name, pattern, where)
                negate ^= e == "P"
                out.append(("[^" if negate else "[") + ranges_to_class_body(ranges) + "]")
                continue
            if e in _SHORTHANDS:
                body = ranges_to_class_body(shorthand(e))
                out.append(("[^" if e.isupper() else "[") + body + "]")
                i += 2
                continue
            if e == "h":
                out.append("[0-9a-fA-F]")
            elif e == "H":
                out.append("[^0-9a-fA-F]")
            elif e == "z":
                out.append(r"\Z")
            elif e == "Z":
                out.append(r"(?=\n?\Z)")
            elif e == "x" and i + 2 < n and pattern[i + 2] == "{":
                close = pattern.find("}", i)
                out.append(f"\\U{int(pattern[i + 3:close], 16):08x}")
                i = close + 1
                continue
            elif e in "KGRXyY":
                raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} uses \\{e}, which is not supported")
            else:
                out.append(c + e)
            i += 2
            continue
        if c == "[":
            body, i = _translate_class(pattern, i, where, shorthand)
            out.append(body)
            continue
        if c == "(" and pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _translate_class(pattern: str, i: int, where: str, shorthand) -> tuple[str, int]:
    """Translate the bracket class starting at ``pattern[i] == '['``; return it and the index after it."""
    n = len(pattern)
    j = i + 1
    parts = ["["]
    if j < n and pattern[j] == "^":
        parts.append("^")
        j += 1
    first = True
    while j < n:
        c = pattern[j]
        if c == "]" and not first:
            parts.append("]")
            return "".join(parts), j + 1
        first = False
        if c == "\\" and j + 1 < n:
            e = pattern[j + 1]
            if e in "pP":
                k = j + 2
                if k < n and pattern[k] == "{":
                    close = pattern.find("}", k)
                    name, k = pattern[k + 1:close], close + 1
                else:
                    name, k = pattern[k], k + 1
                ranges, negate = _property_ranges(name, pattern, where)
                if negate ^ (e == "P"):
                    ranges = _complement(ranges)
                parts.append(ranges_to_class_body(ranges))
                j = k
                continue
            if e in _SHORTHANDS:
                ranges = list(shorthand(e))
                if e.isupper():
                    ranges = _complement(ranges)
                parts.append(ranges_to_class_body(ranges))
                j += 2
                continue
            if e == "h":
                parts.append("0-9a-fA-F")
                j += 2
                continue
            parts.append(c + e)
            j += 2
            continue
        if c == "[":
            raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} nests a class or uses [:name:], "
                                 "which is not supported")
        if c == "&" and pattern.startswith("&&", j):
            raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} intersects classes (&&), which is not supported")
        if c in "~|" and j + 1 < n and pattern[j + 1] == c:
            parts.append("\\" + c)
        else:
            parts.append(c)
        j += 1
    raise TokenizerError(f"tokenizer.json: {where} regex {pattern!r} has an unclosed [")


def pattern_from_config(pattern, where: str) -> re.Pattern:
    """A ``{"String": ...}`` or ``{"Regex": ...}`` pattern of tokenizer.json, compiled."""
    if isinstance(pattern, dict) and len(pattern) == 1:
        (kind, value), = pattern.items()
        if kind == "String" and isinstance(value, str):
            return literal_pattern(value)
        if kind == "Regex" and isinstance(value, str):
            return compile_pattern(value, where)
    if isinstance(pattern, str):
        return literal_pattern(pattern)
    raise ValueError(f'pattern must be {{"String": ...}} or {{"Regex": ...}}, not {pattern!r}')
