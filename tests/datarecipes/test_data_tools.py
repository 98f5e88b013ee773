"""`evalkit data` local tools: rows keep their extra keys and pass training's validation; dedup matches
an exact Jaccard computation; tag-balanced sampling covers rare tags, is balanced and seeded; Table 1
statistics match pandas; tag normalisation merges variants and drops rare tags."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from evalkit.cli.main import main
from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.dedup import comparable_text, deduplicate, shingles
from evalkit.datarecipes.rows import Row, read_rows, single_turn, write_rows
from evalkit.datarecipes.sampling import balanced_sample, tag_counts
from evalkit.datarecipes.stats import table_one
from evalkit.datarecipes.tagging import normalise
from evalkit.train.dialogs import load_dialogs

WORDS = (
    "river stone cloud lamp window garden paper mirror silver candle forest engine harbor violin pepper "
    "marble tunnel feather rocket saddle"
).split()


def _sentence(rng: random.Random, n: int = 30) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_rows_round_trip_keeps_extra_keys_and_train_accepts_the_file(tmp_path: Path) -> None:
    rows = [single_turn("Q one?", "A one.", source="wiki", tags=["a", "b"]), single_turn("Q two?", "A two.", category="math")]
    path = tmp_path / "d.jsonl"
    assert write_rows(path, rows) == 2
    back = read_rows(path)
    assert [r.extra for r in back] == [{"source": "wiki", "tags": ["a", "b"]}, {"category": "math"}]
    assert back[0].instruction == "Q one?" and back[1].output == "A two."
    assert len(load_dialogs(path)) == 2  # training's own reader


def test_read_rows_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(EvalkitError, match=r"bad.jsonl:1: .*assistant"):
        read_rows(path)


def test_dedup_exact_and_near_against_exact_jaccard() -> None:
    rng = random.Random(3)
    originals = [_sentence(rng) for _ in range(12)]
    rows = [single_turn("Tell me.", text) for text in originals]
    rows.append(single_turn("TELL  me.", originals[0].upper()))  # exact after folding case and spaces
    words = originals[1].split()
    rows.append(single_turn("Tell me.", " ".join(words[:-1] + ["zebra"])))  # one word changed: near
    rows = [Row(r.messages, r.extra, f"f:{i + 1}") for i, r in enumerate(rows)]
    kept, removed = deduplicate(rows, threshold=0.7)
    assert [(r.where, r.kind, r.duplicate_of) for r in removed] == [("f:13", "exact", "f:1"), ("f:14", "near", "f:2")]
    # Independently: exact Jaccard of word 3-gram sets between every pair of kept rows stays well below the threshold.
    sets = [shingles(comparable_text(r, "dialog")) for r in kept]
    worst = max(len(a & b) / len(a | b) for i, a in enumerate(sets) for b in sets[i + 1 :])
    assert worst < 0.5
    near = removed[1]
    a, b = (shingles(comparable_text(rows[i], "dialog")) for i in (1, 13))
    assert near.similarity == pytest.approx(len(a & b) / len(a | b), abs=0.15)  # MinHash estimate of the true Jaccard


def _tagged_rows(rng: random.Random) -> list[Row]:
    """A skewed tag distribution: 'common' on 80 rows, 'rare-k' on 2 rows each."""
    rows = [single_turn(f"common {i}", "x", tags=["common"]) for i in range(80)]
    rows += [single_turn(f"rare {k} {j}", "y", tags=[f"rare-{k}"]) for k in range(5) for j in range(2)]
    rng.shuffle(rows)
    return rows


def test_balanced_sample_covers_rare_tags_and_is_seeded() -> None:
    rows = _tagged_rows(random.Random(0))
    sample = balanced_sample(rows, 15, seed=1)
    counts = tag_counts(sample)
    assert len(sample) == 15
    assert all(counts[f"rare-{k}"] == 2 for k in range(5))  # every rare row is taken before 'common' crowds them out
    assert counts["common"] == 5
    random_counts = Counter(t for r in random.Random(1).sample(rows, 15) for t in r.tags)
    assert sum(random_counts[f"rare-{k}"] for k in range(5)) < 10  # what plain random sampling would keep
    assert balanced_sample(rows, 15, seed=1) == sample
    assert balanced_sample(rows, 15, seed=2) != sample
    with pytest.raises(EvalkitError, match="cannot sample 91 rows from 90"):
        balanced_sample(rows, 91)


def test_balanced_sample_without_tags_is_a_seeded_subset() -> None:
    rows = [single_turn(f"q{i}", "a") for i in range(30)]
    sample = balanced_sample(rows, 10, seed=4)
    assert len({r.instruction for r in sample}) == 10
    assert [r.instruction for r in sample] == [r.instruction for r in rows if r in sample]  # original order kept


def test_table_one_matches_pandas() -> None:
    rng = random.Random(5)
    rows = [
        single_turn(_sentence(rng, rng.randint(1, 9)), _sentence(rng, rng.randint(5, 50)), source=rng.choice(["se", "wikihow"]))
        for _ in range(40)
    ]
    table = table_one({"file": rows}).set_index("source")
    frame = pd.DataFrame(
        {
            "source": [r.extra["source"] for r in rows],
            "input": [len(r.instruction.split()) for r in rows],
            "output": [len(r.output.split()) for r in rows],
        }
    )
    expected = frame.groupby("source").agg(["size", "mean"])
    for source in ("se", "wikihow"):
        assert table.loc[source, "examples"] == expected.loc[source, ("input", "size")]
        assert table.loc[source, "avg_input_len"] == pytest.approx(expected.loc[source, ("input", "mean")])
        assert table.loc[source, "avg_output_len"] == pytest.approx(expected.loc[source, ("output", "mean")])
    assert table.loc["total", "examples"] == 40


def test_tag_normalisation_merges_variants_and_drops_rare_tags() -> None:
    tags = normalise([["Creative_Writing", "Poems"], ["creative-writing!", "poem"], ["Poem", "one-off"]], min_count=2)
    assert tags == [["creative writing", "poem"], ["creative writing", "poem"], ["poem"]]


def test_cli_sample_dedup_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    rows = _tagged_rows(random.Random(1))
    write_rows(source, rows + [rows[0]])
    assert main(["data", "dedup", str(source), "--out", str(tmp_path / "d.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows_in"], report["kept"], report["exact"]) == (91, 90, 1)
    assert main(["data", "sample", str(tmp_path / "d.jsonl"), "--size", "15", "--out", str(tmp_path / "s.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["size"], report["tags_kept"], report["tag_rows_min"]) == (15, 6, 2)
    assert main(["data", "stats", str(tmp_path / "s.jsonl"), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["sources"][0]["examples"] == 15 and {t["tag"] for t in stats["tags"]} >= {"common", "rare-0"}
    assert main(["data", "sample", str(tmp_path / "d.jsonl"), "--size", "500", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "cannot sample 500 rows" in capsys.readouterr().err and not (tmp_path / "x.jsonl").exists()
