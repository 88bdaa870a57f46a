"""Near-duplicates: posts whose text is the same or nearly, across sites, by shingles and MinHash.

Each post's words are cut into shingles of SHINGLE words; its signature is the least value of each
of HASHES hash functions over them, and two signatures agree in a share of places that estimates
the Jaccard similarity of the two sets of shingles. Posts that agree in one band of BAND_ROWS
places are compared, and those at least THRESHOLD alike are grouped. Signatures are made anew on
each run (the hashes need not be stable across processes) and never stored.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING, Any

from .db.vectors import live_texts, replace_duplicates

if TYPE_CHECKING:
    import numpy as np
    from sqlite_utils import Database

SHINGLE = 5  # words
HASHES = 128
# 32 bands of 4: pairs 0.7 alike become candidates with a probability of 0.9999, pairs 0.3 alike about
# 1 in 4 times (and are then compared, and left apart).
BAND_ROWS = 4
# Estimated Jaccard similarity of the shingles: one word changed in a post of 60 words leaves 0.83 of
# them in common, a copy of a third of a post 0.3.
THRESHOLD = 0.7
TEXT_CHARS = 20_000  # of each post's text, as much as is embedded
_WORD = re.compile(r"\w+")


def shingles(text: str) -> set[int]:
    """The text's shingles (runs of SHINGLE words, lowercased), each as a 32-bit hash."""
    words = _WORD.findall(text.lower())
    if not words:
        return set()
    runs = (" ".join(words[n:n + SHINGLE]) for n in range(max(1, len(words) - SHINGLE + 1)))
    return {zlib.crc32(run.encode("utf-8", "surrogatepass")) for run in runs}


class MinHasher:
    """HASHES hash functions ((a × x + b) mod 2⁶⁴, a odd), and a set's least value under each."""

    def __init__(self, seed: int = 1) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2**63, size=HASHES, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 2**63, size=HASHES, dtype=np.uint64)

    def signature(self, hashed: set[int]) -> np.ndarray:
        import numpy as np

        values = np.fromiter(hashed, dtype=np.uint64, count=len(hashed))
        with np.errstate(over="ignore"):  # wrapping is the point: the product mod 2⁶⁴
            return (values[:, None] * self.a[None, :] + self.b[None, :]).min(axis=0)


def group_duplicates(texts: list[tuple[str, str]]) -> list[tuple[str, str, float]]:
    """Of (key, text) pairs, those in a group of near-duplicates: (key, the group's first key, its
    estimated similarity to that first). A post alone in its group is not listed."""
    import numpy as np

    hasher = MinHasher()
    keys, signatures = [], []
    for key, text in texts:
        hashed = shingles(text)
        if hashed:
            keys.append(key)
            signatures.append(hasher.signature(hashed))
    if not signatures:
        return []
    matrix = np.stack(signatures)
    parent = list(range(len(keys)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for start in range(0, HASHES, BAND_ROWS):
        buckets: dict[bytes, int] = {}
        for n, band in enumerate(matrix[:, start:start + BAND_ROWS]):
            first = buckets.setdefault(band.tobytes(), n)
            # Each post against the first of its bucket: a bucket of many identical posts costs one
            # comparison each, not one per pair.
            if first != n and _alike(matrix[first], matrix[n]) >= THRESHOLD:
                a, b = root(first), root(n)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for n in range(len(keys)):
        groups.setdefault(root(n), []).append(n)
    found = []
    for head, members in groups.items():
        if len(members) > 1:
            found += [(keys[n], keys[head], _alike(matrix[head], matrix[n])) for n in members]
    return found


def _alike(a: Any, b: Any) -> float:
    """The estimated Jaccard similarity of two signatures: the share of places where they agree."""
    return float((a == b).mean())


def find_duplicates(db: Database, chars: int = TEXT_CHARS) -> int:
    """Group the live posts whose text (title and its first chars) is the same or nearly into the
    duplicates table, anew; how many posts are in a group."""
    texts = [(row["key"], f"{row['title'] or ''}\n\n{row['content_text'] or ''}") for row in live_texts(db, chars)]
    return replace_duplicates(db, group_duplicates(texts))
