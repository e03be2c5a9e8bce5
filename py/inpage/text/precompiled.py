"""SentencePiece's precompiled normalization (the ``Precompiled`` normalizer of T5, XLM-R, ALBERT...).

The charsmap is SentencePiece's compiled normalization rules: a little-endian u32 byte length, a
darts-clone double-array trie over UTF-8 byte strings of that length, then NUL-terminated replacement
strings that the trie's values point into. Text is normalized one extended grapheme cluster at a
time, as the Rust ``tokenizers`` library does (itself following SentencePiece): a cluster shorter
than six UTF-8 bytes is looked up whole, and replaced by the value of the *shortest* trie key that is
a prefix of it; otherwise, or when nothing matches, each of its characters is looked up alone.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from array import array

from ..errors import TokenizerError
from .chars import graphemes
from .normalized import NormalizedString

_NON_ASCII_RUN = re.compile("[^\x00-\x7f]+")
_CACHE_LIMIT = 65536  # looked-up clusters kept; bounded so memory never grows with the input
_U32 = next(code for code in "IL" if array(code).itemsize == 4)  # the array type of 32-bit units


class DoubleArray:
    """darts-clone's double array: each unit packs a label, a leaf flag and an offset."""

    def __init__(self, units: array):
        self.units = units

    def first_prefix_value(self, key: bytes):
        """The value of the shortest key in the trie that is a prefix of ``key``, or None."""
        units = self.units
        size = len(units)
        pos = 0
        unit = units[0]
        pos ^= (unit >> 10) << ((unit & (1 << 9)) >> 6)
        for byte in key:
            if byte == 0:
                break
            pos ^= byte
            if pos >= size:
                return None
            unit = units[pos]
            if unit & ((1 << 31) | 0xFF) != byte:
                return None
            pos ^= (unit >> 10) << ((unit & (1 << 9)) >> 6)
            if (unit >> 8) & 1:
                if pos >= size:
                    return None
                return units[pos] & ((1 << 31) - 1)
        return None


class Precompiled:
    def __init__(self, charsmap: bytes | None):
        self.identity = not charsmap
        self.trie = None
        self.normalized = b""
        self.cache: dict[str, str | None] = {}
        self.ascii_changed = False  # not yet known
        if self.identity:
            return
        if len(charsmap) < 4:
            raise TokenizerError("tokenizer.json: normalizer Precompiled has a truncated precompiled_charsmap; "
                                 "re-export the tokenizer")
        (trie_size,) = struct.unpack_from("<I", charsmap, 0)
        if trie_size % 4 or 4 + trie_size > len(charsmap):
            raise TokenizerError("tokenizer.json: normalizer Precompiled has a precompiled_charsmap whose trie size "
                                 "does not fit it; re-export the tokenizer")
        units = array(_U32)
        units.frombytes(charsmap[4:4 + trie_size])
        if struct.pack("=I", 1) != struct.pack("<I", 1):
            units.byteswap()
        if not units:
            self.identity = True
            return
        self.trie = DoubleArray(units)
        self.normalized = charsmap[4 + trie_size:]

    @classmethod
    def from_config(cls, c):
        raw = c.get("precompiled_charsmap")
        if raw is None:
            # Some exports write null for "no normalization" (the Rust library refuses such files).
            return cls(None)
        if not isinstance(raw, str):
            raise TypeError("'precompiled_charsmap' must be a base64 string")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise TokenizerError("tokenizer.json: normalizer Precompiled has a precompiled_charsmap that is not "
                                 "base64; re-export the tokenizer") from None
        return cls(data)

    def lookup(self, chunk: str):
        """The replacement for ``chunk`` (its shortest matching prefix's), or None."""
        cached = self.cache.get(chunk, False)
        if cached is not False:
            return cached
        index = self.trie.first_prefix_value(chunk.encode("utf-8"))
        result = None
        if index is not None and index < len(self.normalized):
            end = self.normalized.find(b"\0", index)
            raw = self.normalized[index:] if end < 0 else self.normalized[index:end]
            result = raw.decode("utf-8", "replace")
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        self.cache[chunk] = result
        return result

    def normalize(self, n: NormalizedString) -> None:
        if self.identity or not n.normalized:
            return
        text = n.normalized
        replaced = self._replacements(text)
        if not replaced:
            return
        # A removal (replacement by nothing) is, in the Rust library, added to the change of the
        # character before it: a plain removal after an unchanged character, but after a replaced one
        # it changes how that one's characters line up. So a removal right after an edit joins it.
        edits = []
        for start, end, new in replaced:
            if new:
                edits.append([start, end, _changes(text[start:end], new)])
            elif edits and edits[-1][1] == start:
                previous = edits[-1]
                previous[1] = end
                if previous[2]:
                    c, change = previous[2][-1]
                    previous[2][-1] = (c, change - (end - start))
            else:
                edits.append([start, end, []])
        if edits[0][0] == 0 and not edits[0][2]:
            # A removal with nothing before it is lost by the Rust library (no earlier change to add
            # it to), which shifts every later span by the removed characters: do the same.
            n.transform(_full_changes(text, replaced))
            return
        n.edit([(start, end, dest, 0) for start, end, dest in edits])

    def _ascii_changed(self):
        """A regex of the ASCII characters the charsmap changes (None if it changes none)."""
        if self.ascii_changed is False:
            changed = [chr(c) for c in range(128) if self.lookup(chr(c)) not in (None, chr(c))]
            self.ascii_changed = re.compile("[" + re.escape("".join(changed)) + "]") if changed else None
        return self.ascii_changed

    def _replacements(self, text: str) -> list:
        """``(start, end, replacement)`` for each cluster or character the charsmap changes."""
        if "\r\n" in text:
            return self._cluster_replacements(text, 0, len(text))
        # Apart from CR LF, an ASCII character next to ASCII characters is a cluster of its own: only
        # the stretches around non-ASCII text need cluster boundaries; elsewhere only the ASCII
        # characters the charsmap changes matter.
        out = []
        ascii_changed = self._ascii_changed()
        n, done = len(text), 0
        segments: list = []
        for m in _NON_ASCII_RUN.finditer(text):
            start, end = max(m.start() - 1, 0), min(m.end() + 1, n)
            if segments and start <= segments[-1][1]:
                segments[-1] = (segments[-1][0], end)  # touching stretches are one: a cluster may span them
            else:
                segments.append((start, end))
        for start, end in segments:
            if ascii_changed is not None and done < start:
                out += self._ascii_replacements(text, done, start, ascii_changed)
            out += self._cluster_replacements(text, start, end)
            done = end
        if ascii_changed is not None and done < n:
            out += self._ascii_replacements(text, done, n, ascii_changed)
        return out

    def _ascii_replacements(self, text: str, start: int, end: int, regex) -> list:
        lookup = self.lookup
        return [(m.start(), m.end(), lookup(m.group())) for m in regex.finditer(text, start, end)]

    def _cluster_replacements(self, text: str, offset: int, stop: int) -> list:
        lookup = self.lookup
        out = []
        for start, end in graphemes(text[offset:stop]):
            start += offset
            end += offset
            cluster = text[start:end]
            if end - start == 1 or len(cluster.encode("utf-8")) < 6:
                new = lookup(cluster)
                if new is not None:
                    if new != cluster:
                        out.append((start, end, new))
                    continue
                if end - start == 1:
                    continue
            for i in range(start, end):
                new = lookup(text[i])
                if new is not None and new != text[i]:
                    out.append((i, i + 1, new))
        return out


def _changes(old: str, new: str) -> list:
    """Changes for ``old`` becoming ``new``: replacements, then either insertions or one removal count."""
    diff = len(new) - len(old)
    changes = [(c, 0) for c in new]
    if diff > 0:
        for i in range(len(changes) - diff, len(changes)):
            changes[i] = (changes[i][0], 1)
    elif diff < 0 and changes:
        changes[-1] = (changes[-1][0], diff)
    return changes


def _full_changes(text: str, replaced: list) -> list:
    """The change list of the whole text, built as the Rust library builds it: a replacement by
    nothing adds its removal to the change before it, if there is one."""
    dest = []
    pos = 0
    for start, end, new in replaced:
        dest.extend((c, 0) for c in text[pos:start])
        old = text[start:end]
        if new:
            dest.extend(_changes(old, new))
        elif dest:
            c, change = dest[-1]
            dest[-1] = (c, change - len(old))
        pos = end
    dest.extend((c, 0) for c in text[pos:])
    return dest
