"""Counter-based randomness: every random value is a pure function of (seed, stream, index).

The generator never keeps a list of all persons: any attribute of entity `i` is recomputed from
`i` alone, in any chunk, in any order, and always comes out the same. Streams are named so that
adding a new attribute never shifts the values of existing ones.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / float(1 << 53)


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: a bijective scramble of 64-bit integers (vectorized)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64, copy=True) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


@lru_cache(maxsize=4096)
def _stream_key(seed: int, stream: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}\x1f{stream}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _as_u64(values: np.ndarray | int) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "i":
        return array.astype(np.int64).view(np.uint64) if array.ndim else np.uint64(np.int64(array))
    return array.astype(np.uint64)


class Rand:
    """Random values for a seed, addressed by stream name and integer keys (arrays or scalars)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def bits(self, stream: str, *keys: np.ndarray | int) -> np.ndarray:
        h = np.full(np.broadcast(*[np.asarray(k) for k in keys]).shape if keys else (), _stream_key(self.seed, stream),
                    dtype=np.uint64)
        for key in keys:
            h = mix64(h ^ _as_u64(key))
        return mix64(h)

    def uniform(self, stream: str, *keys: np.ndarray | int) -> np.ndarray:
        """Floats in [0, 1)."""
        return (self.bits(stream, *keys) >> np.uint64(11)).astype(np.float64) * _TO_UNIT

    def integers(self, stream: str, high: int | np.ndarray, *keys: np.ndarray | int) -> np.ndarray:
        """Integers in [0, high) (high may be an array of per-element bounds, all > 0)."""
        high = np.asarray(high, dtype=np.uint64)
        return (self.bits(stream, *keys) % high).astype(np.int64)

    def weighted(self, stream: str, cumulative: np.ndarray, *keys: np.ndarray | int) -> np.ndarray:
        """Indices drawn with probabilities given by a cumulative weight array (last = total)."""
        u = self.uniform(stream, *keys) * cumulative[-1]
        return np.searchsorted(cumulative, u, side="right").astype(np.int64)


def cumulative(weights: list[float] | np.ndarray) -> np.ndarray:
    return np.cumsum(np.asarray(weights, dtype=np.float64))


class Permutation:
    """A keyed pseudo-random bijection of [0, size): a Feistel network with cycle walking.

    Used where uniqueness must hold by construction without a lookup table: assigning distinct ID
    number slots to persons, and picking which persons an event happens to (each at most once),
    with `inverse` answering "when does this person's event happen" from the person's index. The
    network works on the smallest power of two holding `size` (unbalanced halves when the bit
    count is odd), so that cycle walking needs two steps at most on average.
    """

    ROUNDS = 4  # even: the halves are back in their places at the end

    def __init__(self, size: int, seed: int, stream: str) -> None:
        if size <= 0:
            raise ValueError("a permutation needs a positive size")
        self.size = int(size)
        bits = max(2, int(size - 1).bit_length())
        self._high_bits, self._low_bits = bits // 2, bits - bits // 2
        self._keys = [_stream_key(seed, f"{stream}#round{r}") for r in range(self.ROUNDS)]

    @staticmethod
    def _mask(bits: int) -> np.uint64:
        return np.uint64((1 << bits) - 1)

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        high_bits, low_bits = self._high_bits, self._low_bits
        high, low = x >> np.uint64(low_bits), x & self._mask(low_bits)
        for key in self._keys:
            high, low = low, high ^ (mix64(low ^ key) & self._mask(high_bits))
            high_bits, low_bits = low_bits, high_bits
        return (high << np.uint64(low_bits)) | low

    def _decrypt(self, y: np.ndarray) -> np.ndarray:
        high_bits, low_bits = self._high_bits, self._low_bits  # an even number of rounds: as at the start
        high, low = y >> np.uint64(low_bits), y & self._mask(low_bits)
        for key in reversed(self._keys):
            high, low = low ^ (mix64(high ^ key) & self._mask(low_bits)), high
            high_bits, low_bits = low_bits, high_bits
        return (high << np.uint64(low_bits)) | low

    def _walk(self, values: np.ndarray, step) -> np.ndarray:
        x = np.asarray(values).astype(np.uint64)
        if x.size and (x.max() >= self.size or np.asarray(values).min() < 0):
            raise ValueError(f"values outside [0, {self.size})")
        out = step(x)
        pending = out >= np.uint64(self.size)
        while pending.any():
            out[pending] = step(out[pending])
            pending = out >= np.uint64(self.size)
        return out.astype(np.int64)

    def forward(self, values: np.ndarray) -> np.ndarray:
        return self._walk(values, self._encrypt)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return self._walk(values, self._decrypt)
