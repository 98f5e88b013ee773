"""Diversity-focused, tag-balanced sampling to a target size (Yi's and Qwen's balanced selection, after
InsTag's complexity-first diverse sampling).

Rows are ordered by a seeded shuffle, then by how many tags they carry (more tags = a more complex
query, taken first, as InsTag does). The next row always goes to the tag that has the fewest rows in
the sample so far, so frequent tags cannot crowd out rare ones; a row with several tags counts for each.
Rows without tags form one group of their own. The same rows, target and seed give the same sample.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter

from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.rows import Row

UNTAGGED = ""


def balanced_sample(rows: list[Row], size: int, seed: int = 0) -> list[Row]:
    """`size` rows, balanced over tags; returned in their original order."""
    if size < 1:
        raise EvalkitError(f"sample size must be at least 1, got {size}")
    if size > len(rows):
        raise EvalkitError(f"cannot sample {size} rows from {len(rows)}; lower the size or add data")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda index: -len(set(rows[index].tags)))  # stable: the shuffle breaks ties
    tags_of = [sorted(set(row.tags)) or [UNTAGGED] for row in rows]
    queues: dict[str, list[int]] = {}
    for index in order:
        for tag in tags_of[index]:
            queues.setdefault(tag, []).append(index)
    position = dict.fromkeys(queues, 0)
    counts: Counter[str] = Counter()
    heap = [(0, tag) for tag in sorted(queues)]
    chosen: set[int] = set()
    while len(chosen) < size:
        count, tag = heapq.heappop(heap)
        if count != counts[tag]:  # stale entry: the tag gained rows through another tag's pick
            heapq.heappush(heap, (counts[tag], tag))
            continue
        queue = queues[tag]
        while position[tag] < len(queue) and queue[position[tag]] in chosen:
            position[tag] += 1
        if position[tag] == len(queue):
            continue  # the tag is exhausted; it leaves the heap
        index = queue[position[tag]]
        chosen.add(index)
        for other in tags_of[index]:
            counts[other] += 1
        heapq.heappush(heap, (counts[tag], tag))
    return [rows[index] for index in sorted(chosen)]


def tag_counts(rows: list[Row]) -> Counter[str]:
    return Counter(tag for row in rows for tag in set(row.tags))
