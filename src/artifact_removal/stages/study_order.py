"""The order each rater sees the DSIS study's trials in: the same arithmetic as study.js.

The study's seed and the rater's name give a 32-bit seed (FNV-1a); a stream of uniform floats
from it (mulberry32) shuffles the trials and places the repeats. The page computes the same
numbers, so the page, the notebook's widget and the check of the ratings agree on which trial
a rater saw at each position.
"""

from __future__ import annotations

MASK = 0xFFFFFFFF


def rater_hash(text: str) -> int:
    """FNV-1a (32 bits) of the text's UTF-8 bytes."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & MASK
    return h


def random_stream(seed: int):
    """mulberry32: uniform floats in [0, 1) from a 32-bit seed, as the page computes them."""
    a = seed & MASK
    while True:
        a = (a + 0x6D2B79F5) & MASK
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & MASK
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & MASK)) & MASK
        yield ((t ^ (t >> 14)) & MASK) / 4294967296


def _shuffle(items: list, stream) -> list:
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = int(next(stream) * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out


def trial_sequence(seed: int, rater: str, count: int, repeats: int) -> list[tuple[int, bool]]:
    """A rater's session: the trials shuffled by a stream seeded with (seed, rater), and the
    first `repeats` of them (at most half) shown again at random places in the second half."""
    stream = random_stream(rater_hash(f"{seed}:{rater}"))
    order = _shuffle(list(range(count)), stream)
    again = _shuffle(order[: min(repeats, count // 2)], stream)
    sequence = [(i, False) for i in order]
    start = -(-count // 2)
    for i in again:
        sequence.insert(start + int(next(stream) * (len(sequence) - start + 1)), (i, True))
    return sequence
