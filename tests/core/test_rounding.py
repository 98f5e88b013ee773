"""One rounding rule on every surface: half up on the decimal value, and natural epoch order."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from evalkit.core.ordering import natural_key, natural_sorted
from evalkit.core.rounding import format_figure, round_half_up


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [(56.25, 1, 56.3), (-56.25, 1, -56.3), (56.24, 1, 56.2), (0.125, 2, 0.13), (1.005, 2, 1.01), (2.5, 0, 3.0)],
)
def test_half_up_on_the_decimal_value(value: float, digits: int, expected: float) -> None:
    assert round_half_up(value, digits) == expected


def test_float_noise_is_read_as_its_decimal() -> None:
    noisy = sum([0.5625] * 100) / 100 * 100  # 56.25 computed as a mean: not always exactly 56.25 in binary
    assert format_figure(noisy, 1) == "56.3"
    assert format_figure(56.25, 1) == "56.3" and f"{56.25:.1f}" == "56.2"  # what format() alone did on the CLI


def test_format_figure_signs_and_missing_values() -> None:
    assert format_figure(0.0, 1, sign=True) == "+0.0" and format_figure(-0.04, 1) == "0.0"
    assert format_figure(None, 1) == "-" and format_figure(math.nan, 1) == "-" and format_figure(True, 1) == "-"
    assert round_half_up(math.nan, 1) != round_half_up(math.nan, 1)


def test_cli_tables_and_the_leaderboard_show_the_same_digits(capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.cli.commands._statsio import print_frame
    from evalkit.leaderboard import columns

    board = pd.DataFrame({"model": ["m"], "pw_win_rate": [56.25], "likert_mean": [4.125], "pw_n": [16]})
    shown = columns.displayed(board, ["model", "pw_win_rate", "likert_mean", "pw_n"])
    assert shown.loc[0, "pw_win_rate"] == 56.3 and shown.loc[0, "likert_mean"] == 4.13 and shown.loc[0, "pw_n"] == 16
    assert board.loc[0, "pw_win_rate"] == 56.25  # the CSV keeps the full figure
    print_frame("t", pd.DataFrame({"win_rate": [0.0625, float("nan")]}))
    assert [line.strip() for line in capsys.readouterr().out.split("\n")[2:4]] == ["0.063", "-"]


def test_natural_order_of_epoch_names() -> None:
    names = ["ckpt/epoch-10", "ckpt/epoch-2", "ckpt/base", "ckpt/epoch-1"]
    assert sorted(names, key=natural_key) == ["ckpt/base", "ckpt/epoch-1", "ckpt/epoch-2", "ckpt/epoch-10"]
    frame = pd.DataFrame({"model": names, "decoding": ["d"] * 4})
    assert list(natural_sorted(frame, ["model"])["model"]) == sorted(names, key=natural_key)
