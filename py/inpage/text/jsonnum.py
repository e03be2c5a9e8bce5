"""Numbers of tokenizer.json read exactly as the Rust library reads them.

The Rust library parses JSON with serde_json without its ``float_roundtrip`` feature, which builds a
float as (digits as an integer) times or divided by a power of ten: two roundings, so about one
score in six of a Unigram vocabulary comes out one unit in the last place away from the correctly
rounded value Python's ``float()`` gives. Unigram picks between splits by comparing sums of those
scores, and ties broken by such a last bit do occur, so we parse the same way.
"""

from __future__ import annotations

_U64 = 2**64 - 1
_POW10 = [float(f"1e{i}") for i in range(309)]


def serde_float(literal: str) -> float:
    text = literal
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    exponent = 0
    e = text.find("e")
    if e < 0:
        e = text.find("E")
    if e >= 0:
        exponent = int(text[e + 1:])
        text = text[:e]
    dot = text.find(".")
    integer, fraction = (text, "") if dot < 0 else (text[:dot], text[dot + 1:])
    digits = integer + fraction
    if len(digits) <= 19:  # always fits a u64
        significand = int(digits)
        exponent -= len(fraction)
    else:
        significand, exponent = _long(integer, fraction, exponent)
    if significand < 2**53 and -22 <= exponent <= 22:
        value = float(significand) * _POW10[exponent] if exponent >= 0 else float(significand) / _POW10[-exponent]
    else:
        value = float(significand)
        while True:
            if abs(exponent) < 309:
                value = value * _POW10[exponent] if exponent >= 0 else value / _POW10[-exponent]
                break
            if value == 0.0:
                break
            if exponent >= 0:
                return float("-inf") if negative else float("inf")
            value /= 1e308
            exponent += 308
    return -value if negative else value


def _long(integer: str, fraction: str, exponent: int) -> tuple[int, int]:
    """serde_json's digit loop for a literal with more digits than a u64 holds: digits are taken
    while they fit; integer digits past that count in the exponent, fraction digits are dropped."""
    significand = 0
    full = False
    for ch in integer:
        d = ord(ch) - 48
        if full or significand * 10 + d > _U64:
            full = True
            exponent += 1
            continue
        significand = significand * 10 + d
    for ch in fraction:
        d = ord(ch) - 48
        if significand * 10 + d > _U64:
            break
        significand = significand * 10 + d
        exponent -= 1
    return significand, exponent
