"""Added tokens ([CLS], <mask>, <|endoftext|>, a user's own): found in the text and cut out before the
model sees it, so they always come out as their own ids.

Tokens with ``normalized: false`` are looked for in the raw text, the others in the normalized text.
Matching is leftmost-longest, then each match is checked against its flags: ``single_word`` drops
a match inside a word, ``lstrip``/``rstrip`` take the spaces beside it into the token.
"""

from __future__ import annotations

import re

from ..errors import TokenizerError
from .chars import WHITE_SPACE, is_word_char
from .normalized import NormalizedString, PreTokenizedString


class AddedToken:
    __slots__ = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")

    def __init__(self, content: str, single_word=False, lstrip=False, rstrip=False, normalized=True, special=False):
        self.content = content
        self.single_word = single_word
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special

    def key(self) -> tuple:
        return (self.content, self.single_word, self.lstrip, self.rstrip, self.normalized, self.special)

    @classmethod
    def from_config(cls, c) -> "AddedToken":
        if not isinstance(c, dict) or not isinstance(c.get("content"), str):
            raise TokenizerError(f"tokenizer.json: added token {c!r} has no string content; fix its added_tokens")
        flags = {}
        for name, default in (("single_word", False), ("lstrip", False), ("rstrip", False),
                              ("special", False)):
            value = c.get(name, default)
            if not isinstance(value, bool):
                raise TokenizerError(f"tokenizer.json: added token {c['content']!r} has {name} {value!r}, not "
                                     "true or false; fix its added_tokens")
            flags[name] = value
        normalized = c.get("normalized", not flags["special"])
        if not isinstance(normalized, bool):
            raise TokenizerError(f"tokenizer.json: added token {c['content']!r} has normalized {normalized!r}, "
                                 "not true or false; fix its added_tokens")
        return cls(c["content"], normalized=normalized, **flags)


class AddedVocabulary:
    def __init__(self):
        self.by_content: dict[str, int] = {}
        self.by_id: dict[int, AddedToken] = {}
        self.special: set[str] = set()
        self.normalized_form: dict[int, str] = {}  # id -> its content once normalized, where that differs
        self.raw_matcher = None  # (regex, {text: id}) over the raw text
        self.normalized_matcher = None  # the same over normalized text

    def add(self, tokens: list[AddedToken], model, normalizer) -> None:
        """Add tokens as the Rust library does when loading a file: an id from the vocab if the
        content already has one, else the next free id after the model's vocab."""
        if self.by_id:
            top = max(self.by_id)
            size = model.vocab_size()
            next_id = top + 1 if top >= size or size == 0 else size
        else:
            next_id = model.vocab_size()
        for token in tokens:
            if not token.content:
                continue
            existing = self.by_content.get(token.content)
            if existing is not None and self.by_id.get(existing) is not None \
                    and self.by_id[existing].key() == token.key():
                continue
            token_id = self.token_to_id(token.content, model)
            if token_id is None:
                token_id = next_id
                next_id += 1
            if token.normalized and normalizer is not None:
                n = NormalizedString(token.content)
                normalizer.normalize(n)
                if n.normalized != token.content:
                    self.normalized_form[token_id] = n.normalized
            self.by_content[token.content] = token_id
            if token.special:
                self.special.add(token.content)
            self.by_id[token_id] = token
        self._build_matchers()

    def _build_matchers(self) -> None:
        raw, normalized = {}, {}
        for token_id, token in self.by_id.items():
            if token.normalized:
                normalized[self.normalized_form.get(token_id, token.content)] = token_id
            else:
                raw[token.content] = token_id
        self.raw_matcher = _matcher(raw)
        self.normalized_matcher = _matcher(normalized)

    def token_to_id(self, token: str, model):
        found = self.by_content.get(token)
        return found if found is not None else model.token_to_id(token)

    def id_to_token(self, token_id: int):
        token = self.by_id.get(token_id)
        if token is None:
            return None
        return self.normalized_form.get(token_id, token.content)

    def _find(self, text: str, matcher) -> list:
        """``((start, end), id or None)`` pieces covering ``text``."""
        if not text:
            return [((0, 0), None)]
        if matcher is None:
            return [((0, len(text)), None)]
        regex, ids = matcher
        out = []
        done = 0
        for m in regex.finditer(text):
            start, stop = m.span()
            token_id = ids[m.group()]
            token = self.by_id[token_id]
            if token.single_word:
                before_ok = start == 0 or not is_word_char(text[start - 1])
                after_ok = stop == len(text) or not is_word_char(text[stop])
                if not (before_ok and after_ok):
                    continue
            if token.lstrip:
                new_start = start
                while new_start > 0 and text[new_start - 1] in WHITE_SPACE:
                    new_start -= 1
                start = max(new_start, done)
            if token.rstrip:
                while stop < len(text) and text[stop] in WHITE_SPACE:
                    stop += 1
            if done < start:
                out.append(((done, start), None))
            out.append(((start, stop), token_id))
            done = stop
        if done != len(text):
            out.append(((done, len(text)), None))
        return out

    def _split(self, n: NormalizedString, matcher) -> list:
        pieces = []
        for (start, end), token_id in self._find(n.normalized, matcher):
            piece = n.slice(start, end)
            if token_id is None:
                pieces.append(piece)
            else:
                pieces.append((piece, [(token_id, piece.normalized, 0, len(piece.normalized))]))
        return pieces

    def extract_and_normalize(self, normalizer, text: str) -> PreTokenizedString:
        p = PreTokenizedString(text)
        p.split(lambda _i, n: self._split(n, self.raw_matcher))

        def normalize_then_split(_i, n):
            if normalizer is not None:
                normalizer.normalize(n)
            return self._split(n, self.normalized_matcher)

        p.split(normalize_then_split)
        return p


def _matcher(patterns: dict[str, int]):
    """A regex finding the leftmost, then longest, of the patterns; None when there are none."""
    if not patterns:
        return None
    ordered = sorted(patterns, key=len, reverse=True)
    return re.compile("|".join(re.escape(p) for p in ordered)), patterns
