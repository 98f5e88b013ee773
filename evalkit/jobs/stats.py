"""The statistics jobs of `evalkit stats` and `evalkit agreement`: their inputs read (annotation and
label files, or the store), the statistics of evalkit.stats applied, and the results as records the
commands print. A statistic refusing its input is one EvalkitError line."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.jobs.stats_inputs import as_players, read_annotations, stats_error, store_tables

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from evalkit.results.summary import Summary


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap settings shared by compare, summary and ranking."""

    resamples: int = 10_000
    level: float = 0.95
    seed: int = 0

    def check(self) -> None:
        if self.resamples < 1:
            raise EvalkitError(f"--resamples must be at least 1, got {self.resamples}")
        if not 0 < self.level < 1:
            raise EvalkitError(f"--level must be between 0 and 1 (e.g. 0.95), got {self.level}")


@dataclass(frozen=True)
class WinRate:
    """AlpacaEval's head-to-head fields of an annotations file (win rates in percent), and its
    length-controlled fields when asked for."""

    figures: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.figures)


@dataclass(frozen=True)
class AnnotationComparison:
    """Two annotation files on their shared prompts: the paired bootstrap difference and the sign test."""

    a: str
    b: str
    n: int
    win_rate_a: float
    win_rate_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_bootstrap: float
    n_a_better: int
    n_b_better: int
    n_equal: int
    p_sign: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Two stored models head to head, by pairwise judges (win rates in %) and by grading judges."""

    pairwise: pd.DataFrame
    likert: pd.DataFrame


@dataclass(frozen=True)
class Agreement:
    """Every pair of raters' agreement, each rater against the mode of the pool, and (from the store)
    each judge's position consistency and length bias."""

    pairs: Sequence[Any]
    vs_mode: Mapping[str, float]
    judges: Sequence[Mapping[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"pairs": list(self.pairs), "vs_mode": dict(self.vs_mode)}
        if self.judges is not None:
            result["judges"] = list(self.judges)
        return result


def annotation_winrate(path: str, length_controlled: bool = False) -> WinRate:
    from evalkit.stats.length_controlled import length_controlled_from_annotations
    from evalkit.stats.winrate import alpaca_winrate

    annotations = read_annotations(path)
    result: dict[str, object] = dict(alpaca_winrate(annotations["preference"]))
    if length_controlled:
        try:
            result.update(length_controlled_from_annotations(annotations))
        except ValueError as exc:
            raise stats_error(exc) from None
    return WinRate(MappingProxyType(result))


def _paired_annotations(path_a: str, path_b: str) -> tuple[np.ndarray, np.ndarray]:
    """Two annotation files' preferences aligned by instruction (the k-th repeat pairs with the k-th)."""
    import pandas as pd

    from evalkit.stats.winrate import preference_unit

    frames = []
    for path in (path_a, path_b):
        frame = read_annotations(path)
        if "instruction" not in frame.columns:
            raise EvalkitError(f"annotations file {path} has no 'instruction' field to pair prompts by")
        frame = frame.assign(unit=preference_unit(frame["preference"]), repeat=frame.groupby("instruction").cumcount())
        frames.append(frame)
    baselines = [set(f["generator_1"].dropna()) if "generator_1" in f else set() for f in frames]
    if all(baselines) and baselines[0] != baselines[1]:
        raise EvalkitError(
            f"{path_a} and {path_b} are against different baselines "
            f"({', '.join(sorted(baselines[0]))} vs {', '.join(sorted(baselines[1]))}); compare needs one"
        )
    merged = pd.merge(
        frames[0][["instruction", "repeat", "unit"]],
        frames[1][["instruction", "repeat", "unit"]],
        on=["instruction", "repeat"],
        suffixes=("_a", "_b"),
    )
    if merged.empty:
        raise EvalkitError(f"{path_a} and {path_b} share no instruction")
    return merged["unit_a"].to_numpy(), merged["unit_b"].to_numpy()


def compare_annotations(path_a: str, path_b: str, bootstrap: Bootstrap) -> AnnotationComparison:
    from evalkit.stats.compare import paired_bootstrap_difference, sign_test

    a, b = _paired_annotations(path_a, path_b)
    diff = paired_bootstrap_difference(a * 100, b * 100, bootstrap.resamples, bootstrap.level, bootstrap.seed)
    sign = sign_test(a, b)
    return AnnotationComparison(
        a=path_a,
        b=path_b,
        n=diff["n"],
        win_rate_a=diff["mean_a"],
        win_rate_b=diff["mean_b"],
        difference=diff["difference"],
        ci_low=diff["ci_low"],
        ci_high=diff["ci_high"],
        p_bootstrap=diff["p_value"],
        n_a_better=sign["n_a_better"],
        n_b_better=sign["n_b_better"],
        n_equal=sign["n_equal"],
        p_sign=sign["p_value"],
    )


def compare_models(model_a: str, model_b: str, bootstrap: Bootstrap, db: str | None = None) -> ModelComparison:
    import pandas as pd

    from evalkit.stats.head_to_head import compare_likert, compare_pairwise

    _, pairwise, likert = store_tables(db)
    pairwise, likert = as_players(pairwise), as_players(likert)
    results: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    comparisons: list[tuple[str, pd.DataFrame, Callable[..., pd.DataFrame]]] = [
        ("pairwise", pairwise, compare_pairwise),
        ("likert", likert, compare_likert),
    ]
    for name, table, compare in comparisons:
        results[name] = pd.DataFrame()
        if table.empty:
            continue
        try:
            results[name] = compare(table, model_a, model_b, bootstrap.resamples, bootstrap.level, bootstrap.seed)
        except ValueError as exc:  # e.g. a model judged only by the other kind of judge
            problems.append(str(exc))
    pair_rows, likert_rows = results["pairwise"], results["likert"]
    if pair_rows.empty and likert_rows.empty:
        reason = problems[0] if problems else "they share no judged prompts"
        raise EvalkitError(f"cannot compare {model_a!r} with {model_b!r}: {reason}; judge both on the same prompts first")
    return ModelComparison(pair_rows, likert_rows)


def store_summary(bootstrap: Bootstrap, db: str | None = None, length_controlled: bool = True) -> Summary:
    """The results layer's summary of everything the store holds (what the leaderboard shows), with the
    combined (human + judge) win rate at the bootstrap's level beside rows that have human labels."""
    from evalkit.core.settings import db_url
    from evalkit.results.combined import store_combined, summary_with_combined
    from evalkit.results.summary import store_tables, summarize
    from evalkit.store import Store

    store = Store(db_url(db), read_only=True)
    tables = store_tables(store)  # read once, for the summary and the combined figures
    summary = summarize(
        tables,
        n_resamples=bootstrap.resamples,
        level=bootstrap.level,
        seed=bootstrap.seed,
        length_controlled=length_controlled,
    )
    return summary_with_combined(summary, store_combined(store, tables, level=bootstrap.level))


def judge_spec(spec_hash: str, db: str | None = None) -> Any:
    """The stored judge specs whose hash starts with `spec_hash` (4 characters at least)."""
    from evalkit.core.settings import db_url
    from evalkit.store import Store
    from evalkit.store.provenance import judge_specs

    if len(spec_hash) < 4:
        raise EvalkitError("give at least 4 characters of the spec hash")
    found = judge_specs(Store(db_url(db), read_only=True), spec_hash)
    if not found:
        raise EvalkitError(f"no judge spec with hash {spec_hash!r} in the store")
    return found


def evaluation_runs(db: str | None = None) -> pd.DataFrame:
    """Every evaluating run of the store with its state (finished, failed, interrupted, running)."""
    from evalkit.core.settings import db_url
    from evalkit.store import Store
    from evalkit.store.run_states import runs_with_states

    return runs_with_states(Store(db_url(db), read_only=True))


def ranking(bootstrap: Bootstrap, annotations: Sequence[str] | None = None, db: str | None = None) -> pd.DataFrame:
    """Bradley-Terry strengths and rank intervals of every model, from annotation files or the store."""
    import pandas as pd

    from evalkit.stats.head_to_head import rank_models

    if annotations:
        frames = []
        for path in annotations:
            frame = read_annotations(path)
            missing = {"generator_1", "generator_2", "instruction"} - set(frame.columns)
            if missing:
                raise EvalkitError(f"annotations file {path} lacks {', '.join(sorted(missing))} needed for a ranking")
            frames.append(
                pd.DataFrame(
                    {
                        "judge_model": frame.get("annotator", pd.Series("annotations", index=frame.index)),
                        "model": frame["generator_2"],
                        "baseline": frame["generator_1"],
                        "prompt_hash": frame["instruction"],
                        "preference": frame["preference"],
                    }
                )
            )
        table = pd.concat(frames, ignore_index=True)
    else:
        _, table, _ = store_tables(db)
        table = as_players(table)
        if table.empty:
            raise EvalkitError("the store has no pairwise judgments to rank; run a pairwise or alpaca_eval judge first")
    return rank_models(table, bootstrap.resamples, bootstrap.level, bootstrap.seed)


def agreement(
    labels_file: str | None = None, pool: Sequence[str] | None = None, db: str | None = None, batch: str | None = None
) -> Agreement:
    """Rater agreement from a labels file, or from the store: the humans' labels of its annotation
    batches with the judges' verdicts on the same pairs (the judges alone before any human labelled)."""
    from evalkit.jobs.stats_inputs import read_labels
    from evalkit.results.agreement import judge_biases, judge_labels, store_labels
    from evalkit.stats.agreement import agreement_pairs, vs_mode

    judges: list[dict[str, Any]] | None = None
    if labels_file:
        labels, raters = read_labels(labels_file), pool
    else:
        from evalkit.store import annotations as annotation_store

        store, pairwise, _ = store_tables(db)
        humans = annotation_store.labels(store, annotation_store.batch_id(store, batch) if batch else None)
        if humans.empty and batch is None:
            # No human labels yet: the judges still agree or disagree with each other on the same answers.
            labels = judge_labels(pairwise)
            raters = pool or sorted(labels["rater"].unique())
        else:
            labels, humans_names = store_labels(humans, pairwise)
            raters = pool or humans_names
        if labels.empty:
            raise EvalkitError(
                "the store has no human labels and no judge verdicts to compare; judge answers first, "
                "collect labels with `evalkit annotate`, or pass --labels FILE"
            )
        judges = judge_biases(pairwise)
    try:
        return Agreement(agreement_pairs(labels), vs_mode(labels, raters), judges)
    except ValueError as exc:
        raise stats_error(exc) from None
