"""A string being normalized and split, that remembers where each of its characters came from.

Offsets in an ``Encoding`` point into the caller's original text, so every change a normalizer or a
pre-tokenizer makes must carry, for each new character, the span of original characters it stands
for. ``NormalizedString`` does that the way the Rust ``tokenizers`` library does (its alignment rules,
quirks included, decide the offsets we must reproduce), but counts characters where Rust counts UTF-8
bytes: the alignments only ever cover whole original characters, so the two agree once Rust's byte
offsets are turned into character offsets, as its Python binding does.

Spans are kept as two lists of absolute positions in the input (``starts``, ``ends``), so slicing a
piece copies them without arithmetic; while a piece is unchanged in length they are left implicit
(``starts is None``: character i stands for input character ``shift + i``). Changes are made as
edits of ranges, the untouched stretches between them copied whole, so the cost of a change is set
by what it changes, not by the length of the text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .chars import WHITE_SPACE, ranges_to_class_body, _merge

# Split behaviours, as named in tokenizer.json.
REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS = (
    "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")
BEHAVIORS = (REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS)


class NormalizedString:
    """``normalized`` (what the model will see) and, for each of its characters, the span
    ``(starts[i], ends[i])`` of input characters it stands for; ``shift`` is where this piece's
    original text starts in the input."""

    __slots__ = ("normalized", "starts", "ends", "shift")

    def __init__(self, normalized: str, starts=None, ends=None, shift: int = 0):
        self.normalized = normalized
        self.starts = starts
        self.ends = ends
        self.shift = shift

    def __len__(self) -> int:
        return len(self.normalized)

    def __repr__(self) -> str:
        return f"NormalizedString({self.normalized!r}, shift={self.shift})"

    def spans(self) -> tuple[list, list]:
        if self.starts is None:
            shift, n = self.shift, len(self.normalized)
            return list(range(shift, shift + n)), list(range(shift + 1, shift + n + 1))
        return self.starts, self.ends

    # -- the general edit ---------------------------------------------------------------------

    def edit(self, edits) -> None:
        """Apply ``(start, end, dest, initial_offset)`` edits (sorted, not overlapping) to the
        normalized text. ``dest`` holds ``(char, change)`` pairs replacing ``[start, end)``: change 0
        for a character taking the place of the next old one, 1 for an inserted one (it stands for
        the old character before it) and -N for one taking the next old character's place and
        removing the N after it; ``initial_offset`` old characters are dropped first. These are the
        Rust library's rules, and so are the offsets they give."""
        if not edits:
            return
        text = self.normalized
        old_s, old_e = self.spans()
        origin = self.shift  # what "no character before" stands for: the start of this piece
        out_text = []
        new_s: list = []
        new_e: list = []
        pos = 0
        for start, end, dest, initial in edits:
            out_text.append(text[pos:start])
            new_s.extend(old_s[pos:start])
            new_e.extend(old_e[pos:start])
            offset = start + initial
            for c, change in dest:
                if change > 0:
                    if offset >= 1:
                        new_s.append(old_s[offset - 1])
                        new_e.append(old_e[offset - 1])
                    else:
                        new_s.append(origin)
                        new_e.append(origin)
                else:
                    new_s.append(old_s[offset])
                    new_e.append(old_e[offset])
                    offset += 1 - change if change < 0 else 1
                out_text.append(c)
            pos = end
        out_text.append(text[pos:])
        new_s.extend(old_s[pos:])
        new_e.extend(old_e[pos:])
        self.normalized = "".join(out_text)
        self.starts, self.ends = new_s, new_e

    def transform(self, dest, initial_offset: int = 0) -> None:
        self.edit([(0, len(self.normalized), dest, initial_offset)])

    # -- edits used by the components -----------------------------------------------------------

    def replace_one_to_one(self, text: str) -> None:
        """Each character replaced by exactly one other: the spans do not change."""
        self.normalized = text

    def remove_matches(self, regex) -> None:
        """Drop the characters ``regex`` matches (one character per match); the others keep their spans."""
        edits = [(m.start(), m.end(), (), 0) for m in regex.finditer(self.normalized)]
        self.edit(edits)

    def prepend(self, s: str) -> None:
        if not self.normalized or not s:
            return
        starts, ends = self.spans()
        self.normalized = s + self.normalized
        self.starts = [starts[0]] * len(s) + starts
        self.ends = [ends[0]] * len(s) + ends

    def lowercase(self) -> None:
        text = self.normalized
        if text.isascii():
            self.normalized = text.lower()
            return
        # Rust lowercases each character alone; str.lower() differs only in the final sigma rule.
        if "\u03a3" not in text:
            lowered = text.lower()
            if len(lowered) == len(text):
                self.normalized = lowered
                return
        edits = []
        chars = []
        for i, c in enumerate(text):
            low = c.lower()
            if len(low) != 1:
                edits.append((i, i + 1, [(low[0], 0)] + [(x, 1) for x in low[1:]], 0))
                chars.append(c)
            else:
                chars.append(low)
        self.normalized = "".join(chars)
        self.edit(edits)

    def unicode_normalize(self, form: str) -> None:
        text = self.normalized
        if text.isascii():
            return
        composing = form in ("NFC", "NFKC")
        decomposition = {"NFC": "NFD", "NFKC": "NFKD"}.get(form, form)
        # Text already in the decomposed form (and, composing, in the composed one too) comes through
        # every step unchanged, spans included.
        if unicodedata.is_normalized(decomposition, text) and (not composing or unicodedata.is_normalized(form, text)):
            return
        edits = []
        for start, end in _runs(_unstable_chars(form).finditer(text), composing):
            changes = _decompose(text[start:end], decomposition)
            if composing:
                changes = _recompose(changes)
            edits.append((start, end, changes, 0))
        self.edit(edits)

    def replace_matches(self, spans, content: str) -> None:
        """Replace each ``(start, end)`` span of the normalized text by ``content``; the new characters
        stand for the last character each match covered."""
        if not spans:
            return
        if len(content) == 1 and all(e - s == 1 for s, e in spans):
            chars = list(self.normalized)
            for s, _e in spans:
                chars[s] = content
            self.normalized = "".join(chars)
            return
        inserted = [(c, 1) for c in content]
        self.edit([(s, e, inserted, e - s) for s, e in spans])

    def strip(self, left: bool, right: bool) -> None:
        text = self.normalized
        n = len(text)
        lead = 0
        if left:
            while lead < n and text[lead] in WHITE_SPACE:
                lead += 1
        trail = 0
        if right:
            while trail < n - lead and text[n - 1 - trail] in WHITE_SPACE:
                trail += 1
        if lead == 0 and trail == 0:
            return
        self.edit([(0, lead, (), 0), (n - trail, n, (), 0)] if trail else [(0, lead, (), 0)])

    # -- slicing and offsets --------------------------------------------------------------------

    def to_original(self, start: int, end: int):
        """The input span of normalized ``[start, end)``, or None (as the Rust library: an empty
        range comes back as it went in, shifted)."""
        if start == end:
            return self.shift + start, self.shift + end
        if start > end or end > len(self.normalized):
            return None
        if self.starts is None:
            return self.shift + start, self.shift + end
        return self.starts[start], self.ends[end - 1]

    def slice(self, start: int, end: int) -> "NormalizedString":
        text = self.normalized[start:end]
        if self.starts is None:
            return NormalizedString(text, None, None, self.shift + start)
        if start == end:
            return NormalizedString(text, [], [], self.shift + start)
        return NormalizedString(text, self.starts[start:end], self.ends[start:end], self.starts[start])

    def whole(self) -> list["NormalizedString"]:
        """This piece as the only piece of a split: its shift moved to its first character, as a
        slice of all of it would have it."""
        if self.starts:
            self.shift = self.starts[0]
        return [self]

    def split_by(self, regex, behavior: str, invert: bool = False) -> list["NormalizedString"]:
        """Split where ``regex`` matches (or, ``invert``, where it does not), as ``behavior`` says."""
        text = self.normalized
        if not invert and text and regex.search(text) is None:
            return self.whole()  # no match: the piece stays whole, whatever the behaviour
        return self.split(regex_matches(regex, text, invert), behavior)

    def split(self, matches, behavior: str) -> list["NormalizedString"]:
        """Split by ``matches``, ``(start, end, is_match)`` triples covering the text, as ``behavior`` says."""
        if behavior == ISOLATED:
            spans = [(s, e) for s, e, _m in matches]
        elif behavior == REMOVED:
            spans = [(s, e) for s, e, m in matches if not m]
        elif behavior == CONTIGUOUS:
            spans, previous = [], False
            for s, e, m in matches:
                if m == previous and spans:
                    spans[-1] = (spans[-1][0], e)
                else:
                    spans.append((s, e))
                previous = m
        elif behavior == MERGED_WITH_PREVIOUS:
            spans, previous = [], False
            for s, e, m in matches:
                if m and not previous and spans:
                    spans[-1] = (spans[-1][0], e)
                else:
                    spans.append((s, e))
                previous = m
        elif behavior == MERGED_WITH_NEXT:
            spans, previous = [], False
            for s, e, m in reversed(matches):
                if m and not previous and spans:
                    spans[-1] = (s, spans[-1][1])
                else:
                    spans.append((s, e))
                previous = m
            spans.reverse()
        else:  # checked when the component is built
            raise ValueError(behavior)
        if len(spans) == 1 and spans[0] == (0, len(self.normalized)) and self.normalized:
            return self.whole()
        return [self.slice(s, e) for s, e in spans]


# -- pattern matching: (start, end, is_match) triples covering a text ----------------------------

def regex_matches(regex, text: str, invert: bool = False) -> list:
    if not text:
        return [(0, 0, invert)]
    out, prev = [], 0
    match = not invert
    for m in regex.finditer(text):
        s, e = m.span()
        if prev != s:
            out.append((prev, s, invert))
        out.append((s, e, match))
        prev = e
    if prev != len(text):
        out.append((prev, len(text), invert))
    return out


# -- Unicode normalization with the alignment changes of the Rust implementation -------------------

@lru_cache(maxsize=4)
def _unstable_chars(form: str) -> re.Pattern:
    """Characters a normalization form may change or move: those that decompose, the combining marks,
    and (composing forms) those that compose with the character before them. Text between them is
    already normal and keeps its spans."""
    compatibility = form in ("NFKC", "NFKD")
    seconds = {b for _a, b in _composition_table()} if form in ("NFC", "NFKC") else set()
    combining, decomposition = unicodedata.combining, unicodedata.decomposition
    ranges = [(0xAC00, 0xD7A3)]  # Hangul syllables decompose into their jamo
    if form in ("NFC", "NFKC"):
        ranges += [(0x1161, 0x1175), (0x11A8, 0x11C2)]  # Hangul vowels and trailing consonants compose
    for cp in range(0x30000):
        c = chr(cp)
        d = decomposition(c)
        if (d and (compatibility or d[0] != "<")) or combining(c) or c in seconds:
            ranges.append((cp, cp))
    return re.compile("[" + ranges_to_class_body(_merge(ranges)) + "]")


def _runs(matches, composing: bool):
    """Maximal runs of consecutive unstable characters; when composing, each run takes in the
    character before it, which its first character may compose with."""
    run_start = run_end = -1
    for m in matches:
        s = m.start()
        if s == run_end:
            run_end = s + 1
            continue
        if run_start >= 0:
            yield run_start, run_end
        run_start = s - 1 if composing and s > 0 else s
        if run_start < run_end:  # the character before belongs to the previous run already
            run_start = run_end
        run_end = s + 1
    if run_start >= 0:
        yield run_start, run_end


@lru_cache(maxsize=8192)
def _char_decomposition(c: str, form: str) -> tuple:
    return tuple((d, unicodedata.combining(d)) for d in unicodedata.normalize(form, c))


def _decompose(text: str, form: str) -> list:
    """Decompose character by character, then put each run of combining marks in canonical order
    (a stable sort), the marks keeping the change each got: 0 for the first character a character
    decomposed into, 1 for the others."""
    out = []  # (ccc, char, change)
    pending = 0
    for c in text:
        first = True
        for d, ccc in _char_decomposition(c, form):
            if ccc == 0:
                if len(out) - pending > 1:
                    out[pending:] = sorted(out[pending:], key=_ccc)
                pending = len(out)
            out.append((ccc, d, 0 if first else 1))
            first = False
    if len(out) - pending > 1:
        out[pending:] = sorted(out[pending:], key=_ccc)
    return [(d, change) for _ccc_, d, change in out]


def _ccc(item) -> int:
    return item[0]


@lru_cache(maxsize=1)
def _composition_table() -> dict:
    table = {}
    for cp in range(0x20000):
        c = chr(cp)
        d = unicodedata.decomposition(c)
        if not d or d.startswith("<"):
            continue
        parts = d.split()
        if len(parts) != 2:
            continue
        if unicodedata.normalize("NFC", c) != c:
            continue  # excluded from composition
        table[(chr(int(parts[0], 16)), chr(int(parts[1], 16)))] = c
    return table


def _compose(a: str, b: str):
    ca, cb = ord(a), ord(b)
    if 0x1100 <= ca < 0x1113 and 0x1161 <= cb < 0x1176:
        return chr(0xAC00 + ((ca - 0x1100) * 21 + (cb - 0x1161)) * 28)
    if 0xAC00 <= ca <= 0xD7A3 and (ca - 0xAC00) % 28 == 0 and 0x11A7 < cb <= 0x11C2:
        return chr(ca + cb - 0x11A7)
    return _composition_table().get((a, b))


def _recompose(decomposed: list) -> list:
    """Canonical composition over ``(char, change)`` pairs: a composed character's change is the sum
    of its parts' changes less one, as in the Rust implementation."""
    combining = unicodedata.combining
    out = []
    composee = None
    last_ccc = None
    buffer = []
    for ch, change in decomposed:
        ccc = combining(ch)
        if composee is None:
            if ccc != 0:
                out.append((ch, change))
            else:
                composee = (ch, change)
            continue
        if last_ccc is None:
            r = _compose(composee[0], ch)
            if r is not None:
                composee = (r, composee[1] + change - 1)
                continue
            if ccc == 0:
                out.append(composee)
                composee = (ch, change)
                continue
            buffer.append((ch, change))
            last_ccc = ccc
            continue
        if last_ccc >= ccc:
            if ccc == 0:
                out.append(composee)
                out.extend(buffer)
                buffer = []
                composee = (ch, change)
                last_ccc = None
                continue
            buffer.append((ch, change))
            last_ccc = ccc
            continue
        r = _compose(composee[0], ch)
        if r is not None:
            composee = (r, composee[1] + change - 1)
            continue
        buffer.append((ch, change))
        last_ccc = ccc
    if composee is not None:
        out.append(composee)
    out.extend(buffer)
    return out


class PreTokenizedString:
    """The input cut into pieces: each a ``NormalizedString`` and, once known, its tokens
    ``(id, value, start, end)`` with spans in the piece's normalized text."""

    __slots__ = ("original", "splits")

    def __init__(self, original: str):
        self.original = original
        self.splits = [[NormalizedString(original), None]]

    def split(self, fn) -> None:
        """Replace each untokenized piece by ``fn(index, piece)``: NormalizedStrings, or
        ``(NormalizedString, tokens)`` pairs; empty pieces are dropped."""
        new = []
        for i, (piece, tokens) in enumerate(self.splits):
            if tokens is not None:
                new.append([piece, tokens])
                continue
            for item in fn(i, piece):
                if isinstance(item, NormalizedString):
                    if item.normalized:
                        new.append([item, None])
                elif item[0].normalized:
                    new.append([item[0], item[1]])
        self.splits = new

    def normalize(self, fn) -> None:
        for piece, tokens in self.splits:
            if tokens is None:
                fn(piece)
