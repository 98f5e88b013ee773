"""evalkit.core.vocabulary is the one home of what a verdict means (issue 24): the labels A / B / tie and the
outcomes win / tie / loss as sets, the A <-> B and win <-> loss flips, AlpacaEval's preference values,
"orders disagree -> tie" and the majority rule. An AST scan of the product packages finds any other
module that spells one of these tables out as a literal."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.core import vocabulary as v

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("evalkit", "judges", "leaderboard", "train")
HOME = ROOT / "evalkit" / "core" / "vocabulary.py"
LABEL_SETS = ({"A", "B", "tie"}, {"win", "tie", "loss"})
LABELISH = {"A", "B", "tie", "win", "loss", "invalid"}
PREFERENCES = {1.0, 1.5, 2.0}


def _constants(nodes: list[ast.expr | None]) -> list[object] | None:
    """The values of a list of constant nodes; None when any is not a constant."""
    if any(not isinstance(node, ast.Constant) for node in nodes):
        return None
    return [node.value for node in nodes]  # type: ignore[union-attr]


def _is_label_key_set(keys: set[object]) -> bool:
    return ({"A", "B"} <= keys <= {"A", "B", "tie"}) or ({"win", "loss"} <= keys <= {"win", "tie", "loss", "invalid"})


def _is_preference(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) in PREFERENCES


def duplicate(node: ast.AST) -> str | None:
    """What vocabulary table this literal restates, or None."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        values = _constants(list(node.elts))
        if values is not None:
            strings = {value for value in values if value is not None}
            if all(isinstance(value, str) for value in strings) and strings in LABEL_SETS:
                return "a label set"
    if isinstance(node, ast.Dict):
        keys = _constants(list(node.keys))
        values = _constants(list(node.values))
        if keys is None:
            return None
        key_set = set(keys)
        if _is_label_key_set(key_set) and values is not None:
            if all(isinstance(value, str) and value in LABELISH for value in values):
                return "a flip / view table"
            if all(_is_preference(value) for value in values):
                return "a preference table"
        if key_set and all(_is_preference(key) for key in key_set) and 1.5 in key_set and values is not None:
            if all(isinstance(value, str) and value in LABELISH for value in values):
                return "a preference -> label table"
        if set(keys) == set(v.ORDERS):
            return "a table per shown order"
    return None


def _defined_names(tree: ast.Module) -> list[tuple[int, str]]:
    """Module-level names that evalkit.core.vocabulary defines, assigned a literal or comprehension here."""
    public = {name for name in vars(v) if name.isupper()}
    literal = (ast.Dict, ast.Set, ast.Tuple, ast.List, ast.DictComp, ast.SetComp, ast.ListComp)
    out = []
    for statement in tree.body:
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        value = getattr(statement, "value", None)
        for target in targets:
            if isinstance(target, ast.Name) and target.id in public and isinstance(value, literal):
                out.append((statement.lineno, target.id))
    return out


def findings(path: Path, source: str | None = None) -> list[str]:
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT)
    found = [f"{where}:{node.lineno}: {what}" for node in ast.walk(tree) if (what := duplicate(node))]
    found += [f"{where}:{line}: redefines vocabulary's {name}" for line, name in _defined_names(tree)]
    return found


def _product_modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py") if path != HOME)


def test_no_module_but_vocabulary_defines_what_a_verdict_means() -> None:
    found = [line for path in _product_modules() for line in findings(path)]
    assert not found, "define these in evalkit/core/vocabulary.py and import them:\n" + "\n".join(found)


def test_the_vocabulary_itself_is_seen_by_the_scan() -> None:
    """The scan is not vacuous: vocabulary.py's own tables are what it looks for."""
    assert len(findings(HOME)) >= 4


@pytest.mark.parametrize(
    "duplicate_source",
    [
        'PREFERENCE = {"A": 1.0, "B": 2.0, "tie": 1.5}',  # store/label_exchange.py before issue 24
        'OUTCOME_PREFERENCE: dict[str, float] = {"win": 2.0, "tie": 1.5, "loss": 1.0}',  # stats/winrate.py
        'FLIP = {"A": "B", "B": "A", "tie": "tie"}',  # judge_eval/align.py
        'label = {"A": "B", "B": "A"}.get(label, label)',  # data/human_labels.py
        'OWN = {"AB": {"A": "A", "B": "B", "tie": "tie"}, "BA": {"A": "B", "B": "A", "tie": "tie"}}',  # running.py
        'shown = {"AB": {"win": "A", "loss": "B", "tie": "tie"}, "BA": {"win": "B", "loss": "A", "tie": "tie"}}',
        'LABELS: tuple[str, ...] = ("A", "tie", "B")',  # stats/agreement.py
        'OUTCOMES: tuple[str, ...] = ("win", "tie", "loss")',  # stats/lima.py
        'if row["label"] not in ("A", "B", "tie", None): pass',  # data/human_labels.py
        "LABEL_OF_PREFERENCE = {value: label for label, value in PREFERENCE.items()}",
    ],
)
def test_the_scan_flags_the_old_duplicates(duplicate_source: str) -> None:
    assert findings(ROOT / "evalkit" / "stats" / "x.py", duplicate_source)


@pytest.mark.parametrize(
    "unrelated",
    [
        '_PANDALM_LABELS = {0: "tie", 1: "A", 2: "B"}',  # a file format's own codes, read into labels
        'BARE = {"a": "A", "b": "B", "neither": "tie"}',  # a judge reply's words
        'columns = ["row", "win", "tie", "loss", "n"]',
        'legend = {"win": "Model wins", "tie": "Tie", "loss": "Baseline wins"}',
        'PRICES = {"m": (0.50, 1.50)}',
    ],
)
def test_the_scan_leaves_unrelated_code_alone(unrelated: str) -> None:
    assert not findings(ROOT / "evalkit" / "stats" / "x.py", unrelated)


def test_mode_tie_choice_is_alpaca_evals_pick() -> None:
    """alpaca_eval's `_random_mode`: pandas sample(1, random_state=123) over the k sorted modes."""
    for k, choice in enumerate(v.MODE_TIE_CHOICE, start=1):
        assert choice == int(pd.Series(np.arange(k)).sample(1, random_state=v.MODE_TIE_SEED).item())


def test_one_majority_rule() -> None:
    assert v.majority(["A", "A", "B"]) == "A"
    assert v.majority(["A", "B"]) == "B"  # two-way split: the higher preference, as alpaca_eval
    assert v.majority(["A", "B", "tie"]) == "A"  # three-way: the lowest
    assert v.majority([None, "x"]) is None
    assert v.majority(["win", "loss"], v.OUTCOMES_BY_PREFERENCE) == "win"
    assert v.LABELS_BY_PREFERENCE[v.TIE_CODE] == v.OUTCOMES[v.TIE_CODE] == "tie"
    codes = v.both_orders(np.array([0, 2, 1, -1, 2]), np.array([0, 0, 1, 2, -1]))
    assert codes.tolist() == [0, v.TIE_CODE, 1, -1, -1]
