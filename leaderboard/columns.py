"""Titles, number formats and help texts of the leaderboard's metric columns, shared by the pages that
show them (and the CSV export, which uses the same titles)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import streamlit as st

from evalkit.core.rounding import is_number, round_half_up


def _combined_columns(prefix: str, title: str) -> dict[str, tuple[str, str | None, str]]:
    """The combined (human + judge) win rate's four columns beside a judge kind's own win rate."""
    return {
        f"{prefix}_combined": (
            f"{title} combined",
            "%.1f",
            "Human + judge (PPI++) win rate, %: what the humans would say had they labelled every judged prompt",
        ),
        f"{prefix}_combined_low": (f"{title} combined 95% low", "%.1f", "Interval of the combined win rate"),
        f"{prefix}_combined_high": (f"{title} combined 95% high", "%.1f", "Interval of the combined win rate"),
        f"{prefix}_n_humans": (f"{title} human-labelled", "%d", "Prompts with a human label that the judge judged"),
    }


METRICS: dict[str, tuple[str, str | None, str]] = {  # column -> (title, number format, help)
    "model": ("Model", None, "Name in the store"),
    "run": ("Run", None, "Training run of a checkpoint"),
    "epoch": ("Epoch", "%d", "Checkpoint epoch"),
    "decoding_label": ("Decoding", None, "The decoding configuration of the answers (each is its own row)"),
    "decoding": ("Decoding hash", None, "Identity of the decoding configuration (as in evalkit stats --json)"),
    "ae_win_rate": ("AlpacaEval WR", "%.1f", "AlpacaEval win rate, % (tie = half a win)"),
    "ae_se": ("AE ± SE", "%.1f", "Standard error of the AlpacaEval win rate"),
    **_combined_columns("ae", "AE"),
    "ae_lc": ("LC WR", "%.1f", "Length-controlled AlpacaEval win rate, % (empty when withheld: why in AE LC withheld)"),
    "ae_lc_se": ("LC ± SE", "%.1f", "Standard error of the length-controlled AlpacaEval win rate (delta method)"),
    "ae_lc_variant": ("LC variant", None, "How the LC win rate was fit (alpaca_eval GLM variant)"),
    "ae_lc_withheld": ("AE LC withheld", None, "Why no LC win rate is shown: too few pairs, or one-sided lengths"),
    "ae_n": ("AE n", "%d", "Prompts with a valid AlpacaEval verdict"),
    "ae_invalid": ("AE invalid", "%d", "AlpacaEval verdicts that are invalid (by reason in the next column)"),
    "ae_invalid_reasons": ("AE invalid by reason", None, "Why: unparseable reply, prompt too long, ..."),
    "win_pct": ("Win %", "%.1f", "Pairwise judge: both orders say the model is better"),
    "tie_pct": ("Tie %", "%.1f", "Pairwise judge: a tie, or the two orders disagree"),
    "loss_pct": ("Loss %", "%.1f", "Pairwise judge: the baseline is better"),
    "pw_win_rate": ("Pairwise WR", "%.1f", "Pairwise win rate, % (tie = half a win)"),
    "pw_se": ("Pairwise ± SE", "%.1f", "Standard error of the pairwise win rate"),
    **_combined_columns("pw", "Pairwise"),
    "pw_lc": (
        "Pairwise LC WR",
        "%.1f",
        "Length-controlled pairwise win rate, % (empty when withheld: why in Pairwise LC withheld)",
    ),
    "pw_lc_se": ("Pairwise LC ± SE", "%.1f", "Standard error of the length-controlled pairwise win rate (delta method)"),
    "pw_lc_variant": ("Pairwise LC variant", None, "How the LC win rate was fit (alpaca_eval GLM variant)"),
    "pw_lc_withheld": ("Pairwise LC withheld", None, "Why no LC win rate is shown: too few pairs, or one-sided lengths"),
    "pw_n": ("Pairwise n", "%d", "Prompts with valid verdicts in both orders"),
    "pw_invalid": ("Pairwise invalid", "%d", "Prompts with an invalid verdict in either order (by reason in the next column)"),
    "pw_invalid_reasons": ("Pairwise invalid by reason", None, "Why: unparseable reply, prompt too long, ..."),
    "likert_mean": ("Likert", "%.2f", "Mean 1-6 helpfulness"),
    "likert_low": ("Likert 95% low", "%.2f", "Bootstrap interval over prompts"),
    "likert_high": ("Likert 95% high", "%.2f", "Bootstrap interval over prompts"),
    "likert_n": ("Likert n", "%d", "Valid Likert grades"),
    "likert_invalid": ("Likert invalid", "%d", "Likert grades that are invalid (by reason in the next column)"),
    "likert_invalid_reasons": ("Likert invalid by reason", None, "Why: unparseable reply, prompt too long, ..."),
}
ALWAYS = ("model", "run", "epoch", "decoding_label")
CSV_ONLY = ("decoding",)  # too long to read in the table, needed to trace a CSV row


def shown_columns(frame: Any, wanted: Iterable[str] = METRICS) -> list[str]:
    """The wanted metric columns the frame has, dropping those with no value at all."""
    return [c for c in wanted if c in frame.columns and (c in ALWAYS or frame[c].notna().any())]


def column_config(columns: Iterable[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for column in columns:
        title, number_format, help_text = METRICS[column]
        config[column] = (
            st.column_config.NumberColumn(title, format=number_format, help=help_text)
            if number_format
            else st.column_config.TextColumn(title, help=help_text)
        )
    return config


def _digits(number_format: str | None) -> int | None:
    """Decimals of a "%.1f" format; None for formats that show no decimals to round ("%d", text)."""
    found = re.fullmatch(r"%\.(\d+)f", number_format or "")
    return int(found.group(1)) if found else None


def displayed(frame: Any, columns: list[str]) -> Any:
    """frame[columns] for a table, each figure rounded half up to the decimals its column shows
    (evalkit.core.rounding), so the table prints the digits the CLI prints (the CSV keeps full precision)."""
    shown = frame[columns].copy()
    for column in columns:
        digits = _digits(METRICS[column][1]) if column in METRICS else None
        if digits is not None:
            shown[column] = rounded(shown[column], digits)
    return shown


def rounded(values: Any, digits: int) -> Any:
    """A numeric Series rounded half up (missing values stay missing)."""
    return values.map(lambda value: round_half_up(float(value), digits) if is_number(value) else value)


def titled(frame: Any, columns: list[str]) -> Any:
    """The columns renamed to their titles (for CSV downloads)."""
    return frame[columns].rename(columns={c: METRICS[c][0] for c in columns})
