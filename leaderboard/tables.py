"""Display tables: slices of a snapshot's summaries, joined per model. Pure pandas (no Streamlit), so
they are tested directly; no statistic is computed here, only selected, joined and renamed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.ordering import natural_sorted
from evalkit.core.records import JUDGE_COLUMNS, JudgeIdentity
from evalkit.leaderboard.snapshot import LENGTH_BIN_COLUMNS, Snapshot

JudgeKey = JudgeIdentity  # the pages' name for it


def judge_keys(summary: pd.DataFrame, output: str | None = None) -> list[JudgeKey]:
    """The judges of a summary, or those of one output (verdict / preference)."""
    if summary.empty:
        return []
    frame = summary if output is None else summary[summary["output"] == output]
    return sorted({JudgeIdentity(str(k), str(m), str(s)) for k, m, s in frame[list(JUDGE_COLUMNS)].itertuples(index=False)})


def judge_label(key: JudgeKey, others: list[JudgeKey]) -> str:
    """ "pairwise · gpt-4o"; the spec hash is added only when one judge model ran with several specs."""
    label = f"{key.kind} · {key.model}"
    clash = sum(1 for other in others if (other.kind, other.model) == (key.kind, key.model)) > 1
    return f"{label} · {key.spec_hash[:8]}" if clash else label


def _one_judge(summary: pd.DataFrame, scope: str, judge: JudgeKey | None) -> pd.DataFrame:
    if judge is None or summary.empty:
        return summary.iloc[0:0]
    return summary[(summary["scope"] == scope) & judge.mask(summary)]


Baseline = tuple[int, str]  # (baseline_id, baseline_decoding)


def baselines(snapshot: Snapshot) -> pd.DataFrame:
    """Every generation set something was compared against, most-used first (the default filter):
    baseline_id, baseline_decoding, baseline (name, with the decoding when the model has several), n."""
    summary = snapshot.pairwise_summary
    if summary.empty:
        return pd.DataFrame(columns=["baseline_id", "baseline_decoding", "baseline", "n"])
    counts = summary.groupby(["baseline_id", "baseline_decoding", "baseline"]).size().rename("n").reset_index()
    several = counts.groupby("baseline_id")["baseline_decoding"].transform("nunique") > 1
    labels = decoding_labels(snapshot)
    counts["baseline"] = [
        f"{name} [{labels.get(d, str(d)[:8])}]" if many else name
        for name, d, many in zip(counts["baseline"], counts["baseline_decoding"], several)
    ]
    return natural_sorted(counts, ["baseline"]).sort_values("n", ascending=False, kind="stable").reset_index(drop=True)


def decoding_labels(snapshot: Snapshot) -> dict[str, str]:
    return dict(zip(snapshot.decodings["decoding"], snapshot.decodings["label"]))


@dataclass(frozen=True)
class Selection:
    scope: str
    baseline: Baseline | None
    pairwise_judge: JudgeKey | None
    alpaca_judge: JudgeKey | None
    likert_judge: JudgeKey | None
    decoding: str | None = None  # one decoding configuration; None: every one (a row per generation set)

    @property
    def baseline_id(self) -> int | None:
        return self.baseline[0] if self.baseline else None


def _against(summary: pd.DataFrame, baseline: Baseline | None) -> pd.DataFrame:
    if baseline is None or summary.empty:
        return summary
    return summary[(summary["baseline_id"] == baseline[0]) & (summary["baseline_decoding"] == baseline[1])]


def generation_sets(snapshot: Snapshot) -> pd.DataFrame:
    """model_id, decoding of every generation set with a result."""
    parts = [
        frame[["model_id", "decoding"]]
        for frame in (snapshot.pairwise_summary, snapshot.likert_summary)
        if not frame.empty and "decoding" in frame
    ]
    if not parts:
        return pd.DataFrame(columns=["model_id", "decoding"])
    return pd.concat(parts, ignore_index=True).drop_duplicates().reset_index(drop=True)


def _with_reasons(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with `reasons`: its invalid counts by reason as text ("prompt too long: 2, ..."; None
    when nothing was invalid), for the table and its CSV."""
    from evalkit.core.vocabulary import format_reasons

    reasons = summary["invalid_reasons"] if "invalid_reasons" in summary else pd.Series(None, index=summary.index, dtype=object)
    return summary.assign(reasons=[format_reasons(r) or None for r in reasons])


def leaderboard_rows(snapshot: Snapshot, selection: Selection) -> pd.DataFrame:
    """One row per generation set (a model under one decoding configuration), plus models with no
    result yet, with the selected judges' numbers against the selected baseline. Two decodings of
    one model are two rows, never one mixed number. Win rates and shares are in percent."""
    models = snapshot.models.rename(columns={"id": "model_id", "name": "model"})[["model_id", "model", "run", "epoch"]]
    rows = models.merge(generation_sets(snapshot), on="model_id", how="left")
    if selection.decoding is not None:
        rows = rows[rows["decoding"] == selection.decoding]
    rows = rows.assign(decoding_label=rows["decoding"].map(decoding_labels(snapshot)))
    keys = ["model_id", "decoding"]
    pair = _against(snapshot.pairwise_summary, selection.baseline)
    alpaca = _one_judge(pair, selection.scope, selection.alpaca_judge)
    if not alpaca.empty:
        alpaca = _with_reasons(alpaca)[
            [*keys, "win_rate", "standard_error", "n", "n_invalid", "reasons", *_combined(alpaca)]
        ].rename(
            columns={
                **_combined_names(alpaca, "ae"),
                "win_rate": "ae_win_rate",
                "standard_error": "ae_se",
                "n": "ae_n",
                "n_invalid": "ae_invalid",
                "reasons": "ae_invalid_reasons",
            }
        )
        rows = rows.merge(_with_length_control(alpaca, snapshot, selection, selection.alpaca_judge, "ae"), on=keys, how="left")
    pairwise = _one_judge(pair, selection.scope, selection.pairwise_judge)
    if not pairwise.empty:
        pairwise = _with_reasons(pairwise)[
            [
                *keys,
                "win_pct",
                "tie_pct",
                "loss_pct",
                "win_rate",
                "standard_error",
                "n",
                "n_invalid",
                "reasons",
                *_combined(pairwise),
            ]
        ].rename(
            columns={
                **_combined_names(pairwise, "pw"),
                "win_rate": "pw_win_rate",
                "standard_error": "pw_se",
                "n": "pw_n",
                "n_invalid": "pw_invalid",
                "reasons": "pw_invalid_reasons",
            }
        )
        rows = rows.merge(
            _with_length_control(pairwise, snapshot, selection, selection.pairwise_judge, "pw"), on=keys, how="left"
        )
    likert = _one_judge(snapshot.likert_summary, selection.scope, selection.likert_judge)
    if not likert.empty:
        likert = _with_reasons(likert)[[*keys, "mean", "ci_low", "ci_high", "n", "n_invalid", "reasons"]].rename(
            columns={
                "mean": "likert_mean",
                "ci_low": "likert_low",
                "ci_high": "likert_high",
                "n": "likert_n",
                "n_invalid": "likert_invalid",
                "reasons": "likert_invalid_reasons",
            }
        )
        rows = rows.merge(likert, on=keys, how="left")
    rows = natural_sorted(rows, ["model", "decoding_label"])  # equal figures and unjudged models: epoch-2 before epoch-10
    sort_by = next((c for c in ("ae_win_rate", "pw_win_rate", "likert_mean") if c in rows.columns), None)
    if sort_by is None:
        return rows
    return rows.sort_values(sort_by, ascending=False, na_position="last", kind="stable").reset_index(drop=True)


# the combined (human + judge) win rate's columns as a judge's leaderboard columns: pw_combined, pw_combined_low, ...
COMBINED_SUFFIXES = {
    "combined": "combined",
    "combined_ci_low": "combined_low",
    "combined_ci_high": "combined_high",
    "n_humans": "n_humans",
}


def _combined(summary: pd.DataFrame) -> list[str]:
    """The combined figures' columns, where the snapshot has them (a store with human labels)."""
    return [column for column in COMBINED_SUFFIXES if column in summary.columns]


def _combined_names(summary: pd.DataFrame, prefix: str) -> dict[str, str]:
    return {column: f"{prefix}_{COMBINED_SUFFIXES[column]}" for column in _combined(summary)}


# the summary's LC fields as a judge's leaderboard columns: ae_lc, ae_lc_se, ae_lc_variant, ae_lc_withheld (pw_ ...)
LC_COLUMN_SUFFIXES = {
    "length_controlled_winrate": "lc",
    "lc_standard_error": "lc_se",
    "lc_variant": "lc_variant",
    "lc_withheld": "lc_withheld",
}


def _with_length_control(
    figures: pd.DataFrame, snapshot: Snapshot, selection: Selection, judge: JudgeKey | None, prefix: str
) -> pd.DataFrame:
    """One judge's figures plus its length-controlled win rate from the snapshot's LC table (as
    `evalkit stats summary` has it: withheld ones have no number and say why), once that is computed."""
    lc = _against(_one_judge(snapshot.lc, selection.scope, judge), selection.baseline)
    if lc.empty:
        return figures
    renamed = {field: f"{prefix}_{suffix}" for field, suffix in LC_COLUMN_SUFFIXES.items()}
    return figures.merge(lc[["model_id", "decoding", *renamed]].rename(columns=renamed), on=["model_id", "decoding"], how="left")


def preference_shares(
    snapshot: Snapshot, scope: str, judge: JudgeKey, model_ids: list[int], baseline_ids: list[int], decoding: str | None = None
) -> pd.DataFrame:
    """Rows for the LIMA bar chart: `row` = "model vs baseline", win/tie/loss as fractions of valid
    verdicts, in the order the models were given (one decoding configuration, or all)."""
    summary = _one_judge(snapshot.pairwise_summary, scope, judge)
    summary = summary[summary["model_id"].isin(model_ids) & summary["baseline_id"].isin(baseline_ids)]
    if decoding is not None:
        summary = summary[summary["decoding"] == decoding]
    if summary.empty:
        return pd.DataFrame(columns=["row", "win", "tie", "loss", "n"])
    rank = {model_id: i for i, model_id in enumerate(model_ids)}
    summary = summary.assign(_rank=summary["model_id"].map(rank)).sort_values(["_rank", "baseline"])
    return (
        pd.DataFrame(
            {
                "row": summary["model"].astype(str) + " vs " + summary["baseline"].astype(str),
                "win": summary["win_pct"].to_numpy() / 100,
                "tie": summary["tie_pct"].to_numpy() / 100,
                "loss": summary["loss_pct"].to_numpy() / 100,
                "n": summary["n"].to_numpy(),
            }
        )
        .dropna(subset=["win"])
        .reset_index(drop=True)
    )


def epoch_metrics(snapshot: Snapshot, selection: Selection, run: str, labels: dict[JudgeKey, str]) -> pd.DataFrame:
    """Long rows (metric, epoch, value, lo, hi) for one training run's checkpoints: each selected
    judge's win rate with its bootstrap interval, AlpacaEval's LC win rate, and the Likert mean."""
    board = leaderboard_rows(snapshot, selection)
    board = board[(board["run"] == run) & board["epoch"].notna() & board["decoding"].notna()]
    pair = _against(snapshot.pairwise_summary, selection.baseline)
    several = board["decoding"].nunique() > 1
    parts = []
    for judge in (selection.alpaca_judge, selection.pairwise_judge):
        summary = _one_judge(pair, selection.scope, judge)
        if summary.empty:
            continue
        merged = board[["model_id", "decoding", "decoding_label", "epoch"]].merge(summary, on=["model_id", "decoding"])
        parts.append(
            pd.DataFrame(
                {
                    "metric": _per_decoding(f"{labels[judge]}: win rate (%)", merged, several),  # type: ignore[index]
                    "epoch": merged["epoch"],
                    "value": merged["win_rate"],
                    "lo": merged["ci_low"],
                    "hi": merged["ci_high"],
                }
            )
        )
    for judge, column in ((selection.alpaca_judge, "ae_lc"), (selection.pairwise_judge, "pw_lc")):
        if judge is not None and column in board.columns and board[column].notna().any():  # withheld ones: no point
            metric = _per_decoding(f"{labels[judge]}: length-controlled win rate (%)", board, several)
            parts.append(
                pd.DataFrame({"metric": metric, "epoch": board["epoch"], "value": board[column], "lo": np.nan, "hi": np.nan})
            )
    if "likert_mean" in board.columns:
        parts.append(
            pd.DataFrame(
                {
                    "metric": _per_decoding(f"{labels[selection.likert_judge]}: Likert mean (1-6)", board, several),  # type: ignore[index]
                    "epoch": board["epoch"],
                    "value": board["likert_mean"],
                    "lo": board["likert_low"],
                    "hi": board["likert_high"],
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["metric", "epoch", "value", "lo", "hi"])
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["value"])
    frame["epoch"] = frame["epoch"].astype(int)
    return frame.sort_values(["metric", "epoch"]).reset_index(drop=True)


def _per_decoding(metric: str, frame: pd.DataFrame, several: bool) -> pd.Series | str:
    """The metric's name, with the decoding configuration when the run was evaluated under several
    (each configuration is its own line, never averaged with another)."""
    return metric + " · " + frame["decoding_label"].astype(str) if several else metric


def length_bins(judged: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Mean preference per decile of the length difference (model minus baseline), per judge: the
    data behind the length-bias plot (invalid verdicts left out)."""
    frame = judged.dropna(subset=["preference", "model_len", "baseline_len"])
    if frame.empty:
        return pd.DataFrame(columns=LENGTH_BIN_COLUMNS)
    frame = frame.assign(difference=frame["model_len"].astype(float) - frame["baseline_len"].astype(float))
    parts = []
    for key, rows in frame.groupby(list(JUDGE_COLUMNS), sort=True):
        deciles = pd.qcut(rows["difference"], q=min(bins, rows["difference"].nunique()), duplicates="drop")
        grouped = rows.groupby(deciles, observed=True).agg(
            length_difference=("difference", "median"), preference=("preference", "mean"), n=("preference", "size")
        )
        parts.append(grouped.reset_index(drop=True).assign(**dict(zip(JUDGE_COLUMNS, map(str, key)))))
    return pd.concat(parts, ignore_index=True)


def rater_pair_kinds(pairs: pd.DataFrame, humans: set[str]) -> pd.DataFrame:
    """LIMA's table (section 4.1): rater pairs grouped as annotator-annotator, annotator-judge and
    judge-judge. Agreement is pooled over every item the pairs share (each pair weighted by its
    items, i.e. the mean over all compared label pairs); kappa, not poolable, is the mean over pairs."""
    if pairs.empty:
        return pd.DataFrame(columns=["raters", "pairs", "items", "tie_discounted", "agreement", "mean_cohen_kappa"])
    is_human = pairs["rater_a"].isin(humans).astype(int) + pairs["rater_b"].isin(humans).astype(int)
    frame = pairs.assign(raters=is_human.map({2: "annotator – annotator", 1: "annotator – judge", 0: "judge – judge"}))
    frame = frame.assign(td_items=frame["tie_discounted"] * frame["n"], agree_items=frame["agreement"] * frame["n"])
    grouped = frame.groupby("raters", sort=False).agg(
        pairs=("n", "size"),
        items=("n", "sum"),
        td_items=("td_items", "sum"),
        agree_items=("agree_items", "sum"),
        mean_cohen_kappa=("cohen_kappa", "mean"),
    )
    grouped["tie_discounted"] = grouped["td_items"] / grouped["items"]
    grouped["agreement"] = grouped["agree_items"] / grouped["items"]
    return grouped.reset_index()[["raters", "pairs", "items", "tie_discounted", "agreement", "mean_cohen_kappa"]]
