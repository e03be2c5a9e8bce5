"""Decoders: the tokenizer.json ``decoder`` section, turning token strings back into text."""

from __future__ import annotations

from .bytelevel import CHAR_TO_BYTE
from .patterns import pattern_from_config
from .pre_tokenizers import Metaspace
from .registry import Registry, get

DECODERS = Registry("decoder")


def build_decoder(config):
    return DECODERS.build(config)


@DECODERS.register("ByteLevel")
class ByteLevelDecoder:
    """Byte-level characters back to bytes, then UTF-8 (invalid sequences become U+FFFD)."""

    @classmethod
    def from_config(cls, c):
        return cls()

    def decode_chain(self, tokens: list[str]) -> list[str]:
        data = bytearray()
        for token in tokens:
            try:
                data += bytes(CHAR_TO_BYTE[c] for c in token)
            except KeyError:
                # A token that is not byte-level (an added token's own text) stands for its UTF-8 bytes.
                data += token.encode("utf-8", "surrogatepass")
        return [data.decode("utf-8", "replace")]


def _cleanup(text: str) -> str:
    """Undo the spaces a word-level join puts before punctuation and English contractions."""
    for old, new in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(old, new)
    return text


@DECODERS.register("WordPiece")
class WordPieceDecoder:
    def __init__(self, prefix: str, cleanup: bool):
        self.prefix, self.cleanup = prefix, cleanup

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "prefix", "##", str), get(c, "cleanup", True, bool))

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        for i, token in enumerate(tokens):
            if i:
                token = token[len(self.prefix):] if token.startswith(self.prefix) else " " + token
            if self.cleanup:
                token = _cleanup(token)
            out.append(token)
        return out


@DECODERS.register("Metaspace")
class MetaspaceDecoder:
    @classmethod
    def from_config(cls, c):
        return Metaspace.from_config(c)


@DECODERS.register("BPEDecoder")
class BPEDecoder:
    def __init__(self, suffix: str):
        self.suffix = suffix

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "suffix", "</w>", str))

    def decode_chain(self, tokens: list[str]) -> list[str]:
        last = len(tokens) - 1
        return [t.replace(self.suffix, "" if i == last else " ") for i, t in enumerate(tokens)]


@DECODERS.register("CTC")
class CTCDecoder:
    def __init__(self, pad_token: str, word_delimiter_token: str, cleanup: bool):
        self.pad_token, self.word_delimiter, self.cleanup = pad_token, word_delimiter_token, cleanup

    @classmethod
    def from_config(cls, c):
        return cls(get(c, "pad_token", "<pad>", str), get(c, "word_delimiter_token", "|", str),
                   get(c, "cleanup", True, bool))

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        previous = None
        for token in tokens:
            if token == previous:
                continue
            previous = token
            text = token.replace(self.pad_token, "")
            if self.cleanup:
                text = _cleanup(text).replace(self.word_delimiter, " ")
            if text:
                out.append(text)
        return out


@DECODERS.register("Replace")
class ReplaceDecoder:
    def __init__(self, regex, content: str):
        self.regex, self.content = regex, content

    @classmethod
    def from_config(cls, c):
        return cls(pattern_from_config(c["pattern"], "Replace decoder"), get(c, "content", "", str))

    def decode_chain(self, tokens: list[str]) -> list[str]:
        return [self.regex.sub(lambda _m: self.content, t) for t in tokens]


@DECODERS.register("Fuse")
class Fuse:
    @classmethod
    def from_config(cls, c):
        return cls()

    def decode_chain(self, tokens: list[str]) -> list[str]:
        return ["".join(tokens)]


@DECODERS.register("Strip")
class StripDecoder:
    """Removes up to ``start`` leading and ``stop`` trailing ``content`` characters from each token."""

    def __init__(self, content: str, start: int, stop: int):
        self.content, self.start, self.stop = content, start, stop

    @classmethod
    def from_config(cls, c):
        content = get(c, "content", " ", str)
        if len(content) != 1:
            raise ValueError("'content' must be one character")
        return cls(content, get(c, "start", 0, int), get(c, "stop", 0, int))

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        for token in tokens:
            n = len(token)
            begin = 0
            while begin < min(self.start, n) and token[begin] == self.content:
                begin += 1
            end = n
            for i in range(self.stop):
                index = n - i - 1
                if index < 0 or token[index] != self.content:
                    break
                end = index
            out.append(token[begin:end] if begin <= end else "")
        return out


@DECODERS.register("ByteFallback")
class ByteFallback:
    """``<0xNN>`` tokens back to the bytes they stand for; a run that is not UTF-8 becomes one U+FFFD per byte."""

    @classmethod
    def from_config(cls, c):
        return cls()

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        pending = bytearray()

        def flush():
            if pending:
                try:
                    out.append(pending.decode("utf-8"))
                except UnicodeDecodeError:
                    out.extend(["\ufffd"] * len(pending))
                pending.clear()

        for token in tokens:
            value = None
            if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
                try:
                    value = int(token[3:5], 16)
                except ValueError:
                    value = None
                if value is not None and not all(ch in "0123456789abcdefABCDEF" for ch in token[3:5]):
                    value = None
            if value is not None:
                pending.append(value)
            else:
                flush()
                out.append(token)
        flush()
        return out


@DECODERS.register("Sequence")
class Sequence:
    def __init__(self, items):
        self.items = items

    @classmethod
    def from_config(cls, c):
        return cls([DECODERS.build(item) for item in get(c, "decoders", [], list) if item is not None])

    def decode_chain(self, tokens: list[str]) -> list[str]:
        for item in self.items:
            tokens = item.decode_chain(tokens)
        return tokens
