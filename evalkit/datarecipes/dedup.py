"""Exact and near-duplicate removal. Exact: the same text after folding case and whitespace. Near:
MinHash over word shingles with locality-sensitive hashing (datasketch), the estimate confirmed with
the MinHash Jaccard before a row goes. The first occurrence stays; every removed row is reported with
the row it duplicates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import sha256_text
from evalkit.datarecipes.rows import Row

Field = Literal["instruction", "dialog"]
NUM_PERM = 128


@dataclass(frozen=True)
class Removed:
    where: str
    kind: str  # "exact" | "near"
    duplicate_of: str
    similarity: float  # 1.0 for exact; the MinHash estimate of the Jaccard similarity for near


def comparable_text(row: Row, on: Field) -> str:
    text = row.instruction if on == "instruction" else "\n".join(m["content"] for m in row.messages)
    return " ".join(text.lower().split())


def shingles(text: str, width: int = 3) -> set[str]:
    """Word `width`-grams; a text shorter than that is one shingle."""
    words = text.split()
    if len(words) <= width:
        return {" ".join(words)}
    return {" ".join(words[i : i + width]) for i in range(len(words) - width + 1)}


def deduplicate(
    rows: list[Row], *, on: Field = "dialog", threshold: float = 0.8, seed: int = 1
) -> tuple[list[Row], list[Removed]]:
    from datasketch import MinHash, MinHashLSH

    if not 0 < threshold <= 1:
        raise EvalkitError(f"--threshold must be in (0, 1], got {threshold}")
    kept: list[Row] = []
    removed: list[Removed] = []
    exact: dict[str, Row] = {}
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM) if threshold < 1 else None
    sketches: dict[int, MinHash] = {}
    for index, row in enumerate(rows):
        text = comparable_text(row, on)
        digest = sha256_text(text)
        if digest in exact:
            removed.append(Removed(row.where, "exact", exact[digest].where, 1.0))
            continue
        exact[digest] = row
        if lsh is not None:
            sketch = MinHash(num_perm=NUM_PERM, seed=seed)
            sketch.update_batch([s.encode("utf-8") for s in shingles(text)])
            near = [(sketches[int(key)].jaccard(sketch), int(key)) for key in lsh.query(sketch)]
            near = [(similarity, key) for similarity, key in near if similarity >= threshold]
            if near:
                similarity, key = max(near, key=lambda pair: (pair[0], -pair[1]))
                removed.append(Removed(row.where, "near", rows[key].where, round(similarity, 4)))
                continue
            lsh.insert(str(index), sketch)
            sketches[index] = sketch
        kept.append(row)
    return kept, removed
