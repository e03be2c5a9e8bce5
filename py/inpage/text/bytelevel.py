"""GPT-2's byte-level alphabet: every UTF-8 byte as a printable character, so that a BPE vocabulary
over these characters covers any text. Shared by the ByteLevel normalizer, pre-tokenizer and decoder."""

from __future__ import annotations

import re
from functools import lru_cache

from .normalized import NormalizedString


def _bytes_to_unicode() -> list[str]:
    """GPT-2's map of the 256 byte values to printable characters: printable Latin-1 bytes stand for
    themselves, the others take the code points from 256 on, in byte order."""
    keep = {*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    table = [""] * 256
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = _bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in enumerate(BYTE_TO_CHAR)}
_ASCII_TO_BYTE_CHARS = {b: BYTE_TO_CHAR[b] for b in range(128)}
# The pre-tokenizer's word pattern (GPT-2's): contractions, letters, digits, other symbols, spaces,
# a run of spaces leaving its last one to the word after it.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_NON_ASCII = re.compile("[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def _byte_chars(c: str) -> tuple:
    encoded = c.encode("utf-8", "surrogatepass")
    return tuple((BYTE_TO_CHAR[b], 1 if k else 0) for k, b in enumerate(encoded))


def to_byte_level(n: NormalizedString) -> None:
    """Each character becomes the characters of its UTF-8 bytes, all standing for the original character."""
    text = n.normalized
    n.replace_one_to_one(text.translate(_ASCII_TO_BYTE_CHARS))  # one byte, one character: spans unchanged
    if not text.isascii():
        n.edit([(m.start(), m.end(), _byte_chars(m.group()), 0) for m in _NON_ASCII.finditer(text)])
