"""The cells of a sweep: sources x sizes, and optionally each ability's proportion on Yi's grid.

A cell's data is a tag-balanced sample of `size` rows of its source (evalkit.datarecipes.sampling);
an ability cell then keeps only `proportion` of the sampled rows of that ability (the other abilities
stay whole), as Yi's grid search over {1, 1/2, ..., 1/64} per ability does. Everything is seeded, so a
cell's data, and therefore its training run, is the same on every re-run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.rows import Row
from evalkit.datarecipes.sampling import balanced_sample

YI_GRID: tuple[float, ...] = tuple(1 / 2**k for k in range(7))  # 1, 1/2, ..., 1/64


@dataclass(frozen=True)
class CellSpec:
    source: str
    size: int
    ability: str | None = None  # None: every ability at proportion 1
    proportion: float = 1.0

    @property
    def name(self) -> str:
        base = f"{self.source}-n{self.size}"
        if self.ability is None:
            return base
        return f"{base}-{self.ability}-{Fraction(self.proportion).limit_denominator(1024)}".replace("/", "of")


def parse_proportions(text: str | None) -> tuple[float, ...]:
    """'yi' -> Yi's grid; '1,1/4,1/16' -> those; None -> no ability grid."""
    if text is None:
        return ()
    if text.strip().lower() == "yi":
        return YI_GRID
    try:
        values = tuple(float(Fraction(part.strip())) for part in text.split(",") if part.strip())
    except (ValueError, ZeroDivisionError):
        raise EvalkitError(f"--proportions {text!r}: use 'yi' or fractions like 1,1/2,1/4") from None
    if not values or any(not 0 < value <= 1 for value in values):
        raise EvalkitError(f"--proportions {text!r}: every proportion must be in (0, 1]")
    return values


def abilities_of(rows: list[Row], field: str) -> list[str]:
    return sorted({str(row.extra[field]) for row in rows if isinstance(row.extra.get(field), (str, int))})


def plan_cells(
    sources: dict[str, list[Row]], sizes: list[int], proportions: tuple[float, ...], ability_field: str
) -> list[CellSpec]:
    """Every cell, checked against the data before any training starts."""
    cells: list[CellSpec] = []
    for source, rows in sources.items():
        for size in sizes:
            if size < 1 or size > len(rows):
                raise EvalkitError(f"source {source} has {len(rows)} dialogs; size {size} is not possible (use 1..{len(rows)})")
            cells.append(CellSpec(source, size))
            abilities = abilities_of(rows, ability_field) if proportions else []
            if proportions and not abilities:
                raise EvalkitError(f"source {source}: no row has a `{ability_field}` key to vary; pass --ability-field NAME")
            cells += [CellSpec(source, size, ability, p) for ability in abilities for p in proportions if p < 1]
    return cells


def cell_rows(rows: list[Row], cell: CellSpec, ability_field: str, seed: int) -> list[Row]:
    sample = balanced_sample(rows, cell.size, seed)
    if cell.ability is None:
        return sample
    members = [i for i, row in enumerate(sample) if str(row.extra.get(ability_field)) == cell.ability]
    keep_count = max(1, round(cell.proportion * len(members))) if members else 0
    dropped = set(members) - set(random.Random(seed).sample(members, keep_count))
    return [row for i, row in enumerate(sample) if i not in dropped]


def source_names(paths: list[Path]) -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path in paths:
        if path.stem in names:
            raise EvalkitError(f"two --data files are named {path.stem}; sources are named by file, rename one")
        names[path.stem] = path
    return names
