"""The Unigram model (SentencePiece: T5, XLM-R, ALBERT): the most probable split, by Viterbi.

For each position the vocabulary pieces starting there are found by extending a prefix through a
table of every prefix of every piece, so the work is linear in the text's length times the longest
piece. A character no piece covers becomes the unknown token, consecutive unknowns fused into one,
as SentencePiece does.
"""

from __future__ import annotations

from ..errors import TokenizerError
from .cache import LRUCache

UNK_PENALTY = 10.0  # how far below the worst piece an unknown character scores


class Unigram:
    def __init__(self, vocab: list[tuple[str, float]], unk_id=None, byte_fallback=False):
        if unk_id is not None and not (0 <= unk_id < len(vocab)):
            raise TokenizerError(f"tokenizer.json: Unigram unk_id {unk_id} is not in its vocab of {len(vocab)} "
                                 "pieces; fix the tokenizer.json")
        self.pieces = [p for p, _s in vocab]
        self.scores = [float(s) for _p, s in vocab]
        self.token_to_ids = {}
        for i, (piece, _score) in enumerate(vocab):
            self.token_to_ids[piece] = i
        self.unk_id = unk_id
        self.byte_fallback = byte_fallback
        self.min_score = min(self.scores, default=0.0)
        # prefix -> id of the piece it spells, or -1 if it is only the start of longer pieces.
        prefixes: dict[str, int] = {}
        longest = 0
        for piece, i in self.token_to_ids.items():
            if not piece:
                continue
            longest = max(longest, len(piece))
            for k in range(1, len(piece)):
                prefixes.setdefault(piece[:k], -1)
            prefixes[piece] = i
        self.prefixes = prefixes
        self.longest = longest
        self.cache = LRUCache()

    @classmethod
    def from_config(cls, c):
        vocab = c.get("vocab")
        if not isinstance(vocab, list):
            raise KeyError("vocab")
        pairs = []
        for item in vocab:
            if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                    or not isinstance(item[1], (int, float)) or isinstance(item[1], bool)):
                raise ValueError(f"each vocab entry must be [piece, score], not {item!r}")
            pairs.append((item[0], item[1]))
        unk_id = c.get("unk_id")
        if unk_id is not None and (not isinstance(unk_id, int) or isinstance(unk_id, bool)):
            raise TypeError("'unk_id' must be an integer or null")
        byte_fallback = c.get("byte_fallback") or False
        return cls(pairs, unk_id, bool(byte_fallback))

    def _missing_unk(self):
        return TokenizerError("tokenizer.json: the Unigram model has no unk_id, so a character none of its pieces "
                              "covers cannot be encoded; use a tokenizer.json with an unk_id")

    def encode(self, text: str) -> list[str]:
        """The pieces of the best split of ``text``."""
        return self._viterbi(text) if text else []

    def _viterbi(self, text: str) -> list[str]:
        n = len(text)
        prefixes, scores, longest = self.prefixes, self.scores, self.longest
        unk_score = self.min_score - UNK_PENALTY
        best = [0.0] * (n + 1)
        start_at = [-1] * (n + 1)
        best_id = [0] * (n + 1)
        for i in range(n):
            base = best[i]
            has_single = False
            limit = min(n, i + longest)
            j = i
            while j < limit:
                j += 1
                found = prefixes.get(text[i:j])
                if found is None:
                    break
                if found >= 0:
                    score = scores[found] + base
                    if start_at[j] < 0 or score > best[j]:
                        best[j] = score
                        start_at[j] = i
                        best_id[j] = found
                    if j == i + 1:
                        has_single = True
            if not has_single:
                if self.unk_id is None:
                    raise self._missing_unk()
                j = i + 1
                score = unk_score + base
                if start_at[j] < 0 or score > best[j]:
                    best[j] = score
                    start_at[j] = i
                    best_id[j] = self.unk_id
        # Walk back from the end, fusing runs of unknown characters into one piece.
        results: list[str] = []
        unknown_end = -1
        end = n
        unk_id = self.unk_id
        while end > 0:
            start = start_at[end]
            if best_id[end] == unk_id:
                if unknown_end < 0:
                    unknown_end = end
            else:
                if unknown_end >= 0:
                    results.append(text[end:unknown_end])
                    unknown_end = -1
                results.append(text[start:end])
            end = start
        if unknown_end >= 0:
            results.append(text[0:unknown_end])
        results.reverse()
        return results

    def tokenize(self, text: str) -> list:
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        tokens = self._tokenize(text)
        self.cache.put(text, tokens)
        return tokens

    def _tokenize(self, text: str) -> list:
        tokens = []
        offset = 0
        for piece in self.encode(text):
            length = len(piece)
            token_id = self.token_to_ids.get(piece)
            if token_id is None:
                if self.byte_fallback:
                    encoded = piece.encode("utf-8", "surrogatepass")
                    byte_ids = [self.token_to_ids.get(f"<0x{b:02X}>") for b in encoded]
                    if None not in byte_ids:
                        # Every byte token spans the whole piece, as in the Rust library.
                        for token_id, byte in zip(byte_ids, encoded):
                            tokens.append((token_id, f"<0x{byte:02X}>", offset, offset + length))
                        offset += length
                        continue
                if self.unk_id is None:
                    raise self._missing_unk()
                token_id = self.unk_id
            tokens.append((token_id, piece, offset, offset + length))
            offset += length
        return tokens

    def token_to_id(self, token: str):
        return self.token_to_ids.get(token)

    def id_to_token(self, i: int):
        if 0 <= i < len(self.pieces):
            return self.pieces[i]
        return None

    def vocab_size(self) -> int:
        return len(self.pieces)
