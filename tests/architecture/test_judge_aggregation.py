"""Judges declare how their verdicts are aggregated (evalkit.judges.aggregation, issue 24): each judge
kind states its verdict type, the verdict type fixes the results table and the evalkit.stats reducer,
the lightweight table of built-in kinds equals what the judge classes declare, custom YAML judges
declare theirs from their spec's mode, and the results layer reads the declaration instead of
branching on judge kinds."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.core.records import ScorerSpec
from evalkit.core.vocabulary import OUTPUTS, Output
from evalkit.judges import aggregation
from evalkit.judges.aggregation import (
    AGGREGATIONS,
    BUILTIN_OUTPUTS,
    aggregates,
    aggregation_of,
    declared_kinds,
    mean_score,
    spec_output,
    win_rate,
)
from evalkit.judges.base import Judge
from evalkit.judges.custom import CustomJudge
from evalkit.judges.registry import BUILTIN_CLASSES, BUILTIN_JUDGES, builtin_outputs
from evalkit.results.tables import Tables
from evalkit.stats.summary import summarize_likert, summarize_pairwise

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "evalkit" / "results"
COMPARING_KINDS = {"pairwise", "alpaca_eval", "reference"}


def _judge_class(name: str) -> type[Judge]:
    module, class_name = BUILTIN_CLASSES[name]
    judge_class: type[Judge] = getattr(importlib.import_module(module), class_name)
    return judge_class


def test_every_verdict_type_has_one_aggregation_in_the_vocabularys_order() -> None:
    assert tuple(AGGREGATIONS) == OUTPUTS
    assert all(aggregation_of(output).output == output for output in OUTPUTS)
    tables = [declared.table for declared in AGGREGATIONS.values()]
    assert sorted(tables) == sorted(field.name for field in dataclasses.fields(Tables))
    assert {output: declared.reduce for output, declared in AGGREGATIONS.items()} == {
        "verdict": win_rate,
        "preference": win_rate,
        "score": mean_score,
    }
    with pytest.raises(ValueError, match="unknown verdict type"):
        aggregation_of("ranking")


@pytest.mark.parametrize("name", BUILTIN_JUDGES)
def test_each_builtin_judge_declares_a_verdict_type_and_a_reducer(name: str) -> None:
    judge_class = _judge_class(name)
    assert judge_class.SCORERS, f"{name} declares nothing"
    for scorer in judge_class.SCORERS:
        declared = aggregation_of(scorer.output)
        assert declared.reduce in (win_rate, mean_score)
        assert declared.compares == (scorer.kind in COMPARING_KINDS)


def test_the_lightweight_table_equals_what_the_judge_classes_declare() -> None:
    assert set(BUILTIN_CLASSES) == set(BUILTIN_JUDGES)
    assert builtin_outputs() == dict(BUILTIN_OUTPUTS)
    assert {kind: output for kind, output in declared_kinds().items() if kind in BUILTIN_OUTPUTS} == dict(BUILTIN_OUTPUTS)


def test_the_declarations_and_the_results_layer_import_no_judge_class_nor_alpaca_eval() -> None:
    code = (
        "import sys, evalkit.judges.aggregation, evalkit.results.summary, evalkit.results.tables, evalkit.results.jobs; "
        "loaded = [m for m in sys.modules if m == 'alpaca_eval' or m.startswith('alpaca_eval.') "
        "or m in ('evalkit.judges.registry', 'evalkit.judges.base') "
        "or m.split('.')[-1] in ('pairwise', 'likert', 'absolute', 'alpaca', 'reference', 'custom')]; "
        "print(loaded)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
    light = subprocess.run(
        [sys.executable, "-c", "import sys, evalkit.judges.aggregation; print('pandas' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert light.stdout.strip() == "False"


def test_the_reducers_are_the_stats_functions() -> None:
    rng = np.random.default_rng(0)
    prompts = [f"p{i}" for i in range(12)]
    comparisons = pd.DataFrame(
        {
            "model_id": [1] * 12 + [2] * 12,
            "prompt_hash": prompts * 2,
            "preference": rng.choice([1.0, 1.5, 2.0], 24),
        }
    )
    grades = pd.DataFrame({"model_id": [1] * 12, "prompt_hash": prompts, "score": rng.integers(1, 7, 12).astype(float)})
    options = {"n_resamples": 50, "level": 0.9, "seed": 3}
    pd.testing.assert_frame_equal(
        win_rate(comparisons, **options, length_controlled=False),
        summarize_pairwise(comparisons, 50, 0.9, 3, length_controlled=False),
    )
    pd.testing.assert_frame_equal(mean_score(grades, **options, length_controlled=True), summarize_likert(grades, 50, 0.9, 3))


@pytest.mark.parametrize(("mode", "output", "reducer"), [("pairwise", "verdict", win_rate), ("single", "score", mean_score)])
def test_a_custom_judge_declares_its_aggregation_from_its_spec(
    tmp_path: Path, mode: str, output: Output, reducer: object
) -> None:
    slots = "{instruction}\n{output_a}\n{output_b}" if mode == "pairwise" else "{instruction}\n{output}"
    choices = "{A: A, B: B, Tie: tie}" if mode == "pairwise" else "{YES: 1, NO: 0}"
    (tmp_path / "t.txt").write_text(slots)
    (tmp_path / "spec.yaml").write_text(f"name: mine\nmode: {mode}\ntemplate: t.txt\nchoices: {choices}\n")
    judge = CustomJudge(tmp_path / "spec.yaml", "some-model")
    assert judge.scorers() == (ScorerSpec("mine", output),) and spec_output(mode == "pairwise") == output
    declared = judge.aggregations()["mine"]
    assert declared.output == output and declared.reduce is reducer
    assert judge.scorer(compares=mode == "pairwise") == ScorerSpec("mine", output)
    assert judge.scorer(compares=mode != "pairwise") is None
    assert [row["output"] for row in judge.spec_rows()] == [output]


def test_the_decorator_sets_scorers_and_refuses_a_kind_with_two_verdict_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregation, "_DECLARED", {})

    @aggregates(ScorerSpec("brevity", "score"))
    class BrevityJudge(Judge):
        kind = "brevity"
        mode = "single"

        def spec(self) -> dict[str, object]:
            return {}

    assert BrevityJudge.SCORERS == (ScorerSpec("brevity", "score"),)
    assert declared_kinds()["brevity"] == "score"
    with pytest.raises(ValueError, match="declared both as score and as verdict"):
        aggregates(ScorerSpec("brevity", "verdict"))(BrevityJudge)
    with pytest.raises(ValueError, match="declared both as verdict and as score"):
        aggregates(ScorerSpec("pairwise", "score"))(BrevityJudge)


# Names a branch on a judge kind or a verdict type would spell out.
KIND_OR_VERDICT_TYPE = {*BUILTIN_OUTPUTS, *OUTPUTS}


def _literals(node: ast.AST) -> set[object]:
    elements = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return {element.value for element in elements if isinstance(element, ast.Constant)}


def kind_branches(tree: ast.AST) -> list[tuple[int, str]]:
    """Comparisons with, match cases on and dispatch tables keyed by a judge kind or verdict type literal."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            named = set().union(*(_literals(side) for side in (node.left, *node.comparators))) & KIND_OR_VERDICT_TYPE
            found += [(node.lineno, f"compares with {name!r}") for name in sorted(map(str, named))]
        elif isinstance(node, ast.MatchValue):
            found += [(node.lineno, f"matches {name!r}") for name in _literals(node.value) & KIND_OR_VERDICT_TYPE]
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Constant):
            # ("verdict", tables.pairwise): a dispatch over kinds spelled as pairs
            named = _literals(node.elts[0]) & KIND_OR_VERDICT_TYPE
            found += [
                (node.lineno, f"pairs {name!r} with a value") for name in named if not isinstance(node.elts[1], ast.Constant)
            ]
        elif isinstance(node, ast.Dict):  # one verdict type as a key is a column name ("score": float)
            keys = {key.value for key in node.keys if isinstance(key, ast.Constant)} & set(OUTPUTS)
            found += [(node.lineno, f"a table keyed by {sorted(map(str, keys))}")] if len(keys) > 1 else []
    return found


def test_the_branch_finder_finds_the_old_branches() -> None:
    old = 'if kind == "likert":\n    pass\ngroups = {"verdict": [], "score": []}\nok = output in ("verdict", "preference")\n'
    assert [line for line, _ in kind_branches(ast.parse(old))] == [1, 3, 4, 4]
    assert kind_branches(ast.parse('frame.astype({"score": float, "valid": bool})')) == []
    assert kind_branches(ast.parse('for output, frame in (("verdict", t.pairwise), ("preference", t.alpaca)): pass')) != []


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.py")), ids=lambda path: path.name)
def test_results_read_the_declaration_instead_of_branching_on_kinds(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert kind_branches(tree) == []
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {module for module in imported if module.startswith("evalkit.judges.") and module != "evalkit.judges.aggregation"}
