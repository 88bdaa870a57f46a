"""Finding by meaning: a static word-embedding model that ships inside its Python package (wordllama,
its 256-dimension weights and tokenizer in the wheel), run offline; the vectors of posts and pages,
computed incrementally into the archive; and the nearest of them to a query.

The model is loaded lazily, on the first text embedded, and never downloads anything: a wordllama
without its weights is an error, not a fetch. Reading the archive imports this module only when a
search asks for meaning, so serving starts without numpy or the model.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .db.vectors import (
    drop_stale_embeddings, embedding_candidates, ensure_vector_index, has_related, live_vectors, replace_related, save_embeddings, texts_of,
)
from .errors import WPArchiveError
from .progress import Progress, SilentProgress

if TYPE_CHECKING:
    import numpy as np
    from sqlite_utils import Database

CONFIG, DIMS = "l2_supercat", 256  # the model wordllama's wheel carries
# What is embedded of a post: its title and the start of its text. A static model averages its
# words, so the opening says what a post is about; the cap bounds the memory a batch takes.
TEXT_CHARS = 20_000
MAX_TOKENS = 4_096
BATCH = 64  # texts embedded at once
SAVE_EVERY = 256  # vectors per transaction: an interruption loses at most these
# Related posts: the nearest few of a post's own site and of the other sites, at least this similar.
# On a few hand-made posts, two on one subject scored 0.77-0.87, on neighbouring subjects (a car's
# servicing, a bicycle's repair) 0.3-0.5, unrelated below 0.2: a first guess, to be calibrated on real archives.
RELATED_PER_SIDE = 3
MIN_RELATED = 0.4
# What comparing a block of posts with every other may hold at once: per post of the block and of the
# archive, its similarity, a masked copy and its negation (4 bytes each), the rank argpartition
# returns (8) and the same-site mask (1). 1,024 posts at a time took 3.4 GB at 100,000 posts.
RELATE_BYTES = 128 * 1024 * 1024
RELATE_BYTES_PER_PAIR = 4 + 4 + 4 + 8 + 1


class MeaningUnavailable(WPArchiveError):
    """Finding by meaning needs the optional model package, and it is not installed (or not whole)."""

    hint = "Install it with: pip install 'wparchive[meaning]'"


@dataclass(frozen=True)
class Embedder:
    """The model: its name (with its package's version, so that another version embeds again) and
    the function from texts to normalised float32 vectors."""

    name: str
    dims: int
    inference: Any

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length float32 vector per text (an empty text gives a vector of zeros)."""
        import numpy as np

        vectors = self.inference.embed(texts, norm=False, batch_size=BATCH).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


@functools.cache
def model_name() -> str:
    """The name recorded beside each vector: package, version, configuration and dimensions. Read
    from the installed package's metadata, without loading the model."""
    try:
        version = metadata.version("wordllama")
    except metadata.PackageNotFoundError:
        raise MeaningUnavailable("Finding by meaning needs the wordllama package, which is not installed.") from None
    return f"wordllama-{version}/{CONFIG}-{DIMS}"


def check_installed() -> None:
    """MeaningUnavailable now, when the model's package is not there to import; nothing is loaded."""
    model_name()
    try:
        found = importlib.util.find_spec("wordllama") is not None
    except (ImportError, ValueError):  # ValueError: a module set to None, as a blocked import is
        found = False
    if not found:
        raise MeaningUnavailable("Finding by meaning needs the wordllama package, which cannot be imported.")


_loaded: Embedder | None = None
_loading = threading.Lock()


def load_embedder() -> Embedder:
    """The model, loaded once per process from the files its package ships; nothing is downloaded."""
    global _loaded
    with _loading:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def _load() -> Embedder:
    name = model_name()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama
    except ImportError as exc:
        raise MeaningUnavailable(f"The wordllama package cannot be imported ({exc}).") from None
    finally:
        # wordllama calls logging.basicConfig on import: the command line's logging stays ours.
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    package = Path(wordllama.__file__).parent
    try:
        # The package's own folder as the cache: its weights/ and tokenizers/ are where wordllama
        # looks in a cache, and with downloads off a missing file is an error instead of a fetch.
        inference = wordllama.WordLlama.load(config=CONFIG, dim=DIMS, cache_dir=package, disable_download=True)
    except (OSError, ValueError) as exc:
        raise MeaningUnavailable(f"wordllama's model files could not be loaded ({exc}).") from None
    inference.tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return Embedder(name=name, dims=DIMS, inference=inference)


def text_of(title: str | None, content_text: str | None) -> str:
    """What is embedded of a post: its title, then the start of its text."""
    return f"{title or ''}\n\n{(content_text or '')[:TEXT_CHARS]}".strip()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class EmbedCounts:
    """What an embedding pass did."""

    embedded: int = 0
    unchanged: int = 0
    dropped: int = 0
    related: int | None = None  # rows of the related table written; None when it was left as it was


def embed_archive(db: Database, *, embedder: Embedder | None = None,
                  progress: Progress | None = None) -> EmbedCounts:
    """Embed the live posts and pages whose text (or the model) changed since their vector was made;
    drop the vectors of posts gone and of other models."""
    embedder = embedder or load_embedder()
    progress = progress or SilentProgress()
    counts = EmbedCounts()
    ensure_vector_index(db)
    # Hashes first, texts again for those to embed: only keys are held, not every post's text.
    stale: list[str] = []
    for row in embedding_candidates(db, embedder.name, TEXT_CHARS):
        if text_sha256(text_of(row["title"], row["content_text"])) == row["stored_sha256"]:
            counts.unchanged += 1
        else:
            stale.append(row["key"])
    generation = time.time_ns()  # tells readers that the set of vectors changed
    progress.begin("embeddings", len(stale))
    for start in range(0, len(stale), SAVE_EVERY):
        texts = [(row["key"], text_of(row["title"], row["content_text"]))
                 for row in texts_of(db, stale[start:start + SAVE_EVERY], TEXT_CHARS)]
        vectors = embedder.embed([text for _, text in texts])
        counts.embedded += save_embeddings(db, (
            {"key": key, "model": embedder.name, "dims": embedder.dims, "vector": vector.tobytes(),
             "text_sha256": text_sha256(text), "generation": generation}
            for (key, text), vector in zip(texts, vectors, strict=True)))
        progress.advance(len(texts))
    counts.dropped = drop_stale_embeddings(db, embedder.name)
    progress.end("embeddings")
    if counts.embedded or counts.dropped or not has_related(db):
        counts.related = relate_archive(db, embedder, progress=progress)
    return counts


def relate_archive(db: Database, embedder: Embedder, *, progress: Progress | None = None) -> int:
    """Fill the related table from the vectors: for each live post, the RELATED_PER_SIDE nearest of its
    own site and of the other sites, at least MIN_RELATED similar; how many rows were written."""
    import numpy as np

    progress = progress or SilentProgress()
    found = live_vectors(db, embedder.name, embedder.dims)
    keys = [key for key, _, _ in found]
    sites = np.array([site for _, site, _ in found], dtype=np.int64)
    matrix = np.frombuffer(b"".join(vector for _, _, vector in found), dtype=np.float32).reshape(len(found),
                                                                                                  embedder.dims)
    rows: list[tuple[str, int, str, float]] = []
    progress.begin("related", len(keys))
    block_size = max(1, RELATE_BYTES // (RELATE_BYTES_PER_PAIR * max(1, len(keys))))
    for start in range(0, len(keys), block_size):
        similarity = matrix[start:start + block_size] @ matrix.T
        block = np.arange(similarity.shape[0])
        similarity[block, start + block] = -np.inf  # not related to itself
        same_site = sites[start:start + block_size, None] == sites[None, :]
        for side in (same_site, ~same_site):
            masked = np.where(side, similarity, -np.inf)
            for n, columns in enumerate(_top(masked, RELATED_PER_SIDE)):
                rows += [(keys[start + n], 0, keys[column], float(masked[n, column])) for column in columns
                         if masked[n, column] >= MIN_RELATED]
        progress.advance(similarity.shape[0])
    rows.sort(key=lambda row: (row[0], -row[3], row[2]))
    ranked = []
    for _, group in itertools.groupby(rows, key=lambda row: row[0]):
        ranked += [(key, rank, other, score) for rank, (key, _, other, score) in enumerate(group, start=1)]
    written = replace_related(db, ranked)
    progress.end("related")
    return written


def _top(similarity: np.ndarray, k: int) -> np.ndarray:
    """For each row, the columns of its k greatest values (fewer where the row has fewer columns)."""
    import numpy as np

    k = min(k, similarity.shape[1])
    if k < 1:
        return np.empty((similarity.shape[0], 0), dtype=np.int64)
    return np.argpartition(-similarity, k - 1, axis=1)[:, :k]


@dataclass(frozen=True)
class VectorIndex:
    """The vectors of one archive's posts, in memory, searched by brute force (a matrix product)."""

    rids: np.ndarray
    matrix: np.ndarray

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The rowids of the k posts nearest to vector, nearest first, with their cosine similarity."""
        import numpy as np

        if not len(self.rids) or k < 1:
            return []
        scores = self.matrix @ vector
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((self.rids[top], -scores[top]))]
        return [(int(rid), float(score)) for rid, score in zip(self.rids[top], scores[top], strict=True)]


# The indexes read, by (archive, model, archive file, their last generation), least recently used
# first: a process serving several archives keeps one for each; a new `wparchive embed` changes the
# key, and the index is read again.
IndexKey = tuple[str, str, str, int]
_indexes: OrderedDict[IndexKey, VectorIndex] = OrderedDict()
# What the indexes kept may take in memory, together. Bounded by bytes, not by count, because reading
# an index again costs a scan of every vector of its archive at each search: a server of many small
# archives keeps them all (an archive's index takes 1 KB a post, at 256 dimensions), while a few very
# large ones cannot grow the process past what a small server has to spare (a million posts are 1 GB).
# The index last read is kept whatever its size.
KEPT_INDEX_BYTES = 1024**3


def cached_index(key: IndexKey) -> VectorIndex | None:
    """The index read before under this key, if it is still kept (it is then the last to go)."""
    index = _indexes.get(key)
    if index is not None:
        _indexes.move_to_end(key)
    return index


def remember_index(key: IndexKey, rows: list[dict[str, Any]], dims: int) -> VectorIndex:
    """An index of rows (rid, vector bytes), kept under key, in place of any of the same archive file
    and model; those least recently used go while all take more than KEPT_INDEX_BYTES."""
    import numpy as np

    rows = [row for row in rows if row["vector"] is not None and len(row["vector"]) == dims * 4]
    matrix = np.frombuffer(b"".join(row["vector"] for row in rows), dtype=np.float32).reshape(len(rows), dims)
    index = VectorIndex(rids=np.array([row["rid"] for row in rows], dtype=np.int64), matrix=matrix)
    for older in [kept for kept in _indexes if kept[:3] == key[:3]]:  # an earlier generation: never asked again
        del _indexes[older]
    _indexes[key] = index
    while len(_indexes) > 1 and sum(map(_size, _indexes.values())) > KEPT_INDEX_BYTES:
        _indexes.popitem(last=False)
    return index


def _size(index: VectorIndex) -> int:
    return int(index.matrix.nbytes + index.rids.nbytes)
