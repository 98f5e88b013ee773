"""Length-controlled win rate, through alpaca-eval's own GLM code.

What alpaca-eval 0.6.6 does (alpaca_eval/metrics/glm_winrate.py, `get_length_controlled_winrate`):
it fits a logistic GLM of the preference (in [0, 1], ties 0.5, as soft labels) on
`tanh(std_delta_len) + instruction_difficulty + not_gamed_baseline` without intercept, where
`std_delta_len` = (len(output_1) - len(output_2)) / its standard deviation, with an L1 penalty whose
strength is picked by 5-fold grouped cross-validation (`fit_LogisticRegressionCV`), and reports the
mean predicted preference at zero length difference. Its default `length_controlled_v1` also
regularises towards two "gamed" baselines. Both the per-instruction difficulty and the gamed
baselines come from `df_gamed.csv` in the Hugging Face dataset `tatsu-lab/alpaca_eval`, downloaded
at call time, and difficulty is looked up by the row's position in AlpacaEval's 805 instructions.

So: when that file is already in the local Hugging Face cache and the rows are AlpacaEval's own 805
instructions in order, `length_controlled_v1` runs through alpaca-eval itself (never touching the
network). Otherwise the same GLM without the instruction-difficulty term (alpaca-eval's own
`length_controlled_minimal` formula, no regularisation) is fit on the run's rows with alpaca-eval's
`fit_LogisticRegressionCV`. Every result says which variant produced it.

Two things are evalkit's own, and only for the minimal variant (which has nothing but the run's
pairs to go on):

- its standard error, by the delta method with a sandwich covariance of the GLM's coefficients
  (`_delta_method_se`): AlpacaEval's `lc_standard_error` is the spread of per-instruction predictions,
  which is 0 by construction when the prediction is one constant;
- `withheld_reason`: when the pairs' length differences are one-sided the value at equal length is an
  extrapolation, and it is withheld (no number, the reason instead) rather than shown.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from evalkit.core.rounding import format_figure
from evalkit.stats.winrate import preference_unit

VARIANT_V1 = "length_controlled_v1"
VARIANT_MINIMAL = "length_controlled_minimal"
ALPACA_EVAL_SET_SIZE = 805
_HUB_REPO = "tatsu-lab/alpaca_eval"
_HUB_FILE = "df_gamed.csv"
_MIN_ROWS = 5  # the GLM's 5-fold grouped cross-validation needs at least 5 rows
# The GLM reports its prediction at zero length difference. That is an interpolation only when the
# judged pairs lie on both sides of zero; when nearly every answer is shorter (or longer) than the
# baseline's, the value at zero rests on the few pairs on the far side and on the tanh shape of the
# length term, and can be anything (the tiny demo: 99.9-100.0 from win rates of 68-93, its answers
# shorter on 86-98% of pairs). The rule: zero must lie within the central 60% of the length differences
# (20th to 80th percentile), i.e. at least one pair in five on each side, equal lengths counting for
# both. The interquartile range (25%) would also refuse sets the fit still supports from both sides (a
# judge that rewards only length, answers longer on 77% of pairs: the GLM recovers 50 within 6 points,
# tests/stats/test_stats_length_controlled.py); past 80% one-sided the far side is too thin to pin the value.
MIN_SIDE_SHARE = 0.2
LC_FIELDS: tuple[str, ...] = ("length_controlled_winrate", "lc_standard_error", "lc_variant", "lc_withheld")
VARIANT_NAMES = {
    VARIANT_V1: "alpaca_eval GLM, length_controlled_v1",
    VARIANT_MINIMAL: "alpaca_eval GLM, length_controlled_minimal",
}


class LengthControlled(TypedDict):
    """`lc_withheld`: why there is no number (None when there is one): too few pairs, or a fit that
    would extrapolate to equal length."""

    length_controlled_winrate: float
    lc_standard_error: float
    lc_variant: str
    lc_withheld: str | None


def withheld_reason(baseline_lengths: np.ndarray, model_lengths: np.ndarray) -> str | None:
    """Why the minimal GLM's win rate at equal length must not be shown for these judged pairs, or
    None: fewer pairs than its cross-validation needs, or length differences one-sided (see
    MIN_SIDE_SHARE). The one definition every surface reads (through `minimal_glm_winrate`)."""
    n = int(baseline_lengths.size)
    if n < _MIN_ROWS:
        return f"only {n} judged pair{'s' if n != 1 else ''} with lengths; the GLM needs at least {_MIN_ROWS}"
    difference = model_lengths - baseline_lengths
    for share, side in ((np.mean(difference < 0), "shorter"), (np.mean(difference > 0), "longer")):
        if share > 1 - MIN_SIDE_SHARE:
            return (
                f"length difference one-sided: the model's answers are {side} than the baseline's on "
                f"{format_figure(100 * share, 0)}% of pairs, so the value at equal length would be an extrapolation "
                f"(shown when at least {format_figure(100 * MIN_SIDE_SHARE, 0)}% of pairs lie on each side)"
            )
    return None


def variant_name(variant: str) -> str:
    """ "alpaca_eval GLM, length_controlled_minimal": which formulation, in words for tables."""
    return VARIANT_NAMES.get(variant, variant)


def hub_files_cached() -> bool:
    """Whether alpaca-eval's `df_gamed.csv` is in the local Hugging Face cache (no network used)."""
    try:
        with _quiet_libraries():
            from alpaca_eval import constants
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(
        repo_id=_HUB_REPO, filename=_HUB_FILE, repo_type="dataset", cache_dir=constants.DEFAULT_CACHE_DIR
    )
    return isinstance(found, str)


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    """alpaca-eval's import warns about pkg_resources, its sklearn calls about deprecated arguments,
    and liblinear about convergence on small or one-sided sets (the fit is alpaca-eval's own, with its
    own iteration limit); none of it is something an evalkit user can act on."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*pkg_resources.*")
        yield


@contextmanager
def _hub_cache_only() -> Iterator[None]:
    """alpaca-eval calls hf_hub_download without local_files_only; make a cache miss fail instead of
    downloading (nothing is fetched at run time)."""
    from alpaca_eval.metrics import glm_winrate

    original = glm_winrate.hf_hub_download
    glm_winrate.hf_hub_download = partial(original, local_files_only=True)
    try:
        yield
    finally:
        glm_winrate.hf_hub_download = original


def _standardised_delta(baseline_lengths: np.ndarray, model_lengths: np.ndarray) -> np.ndarray:
    """alpaca-eval's std_delta_len (output_1 is the baseline); all-equal lengths give 0, not NaN."""
    delta = baseline_lengths - model_lengths
    spread = pd.Series(delta).std()  # ddof 1, as alpaca-eval
    if not np.isfinite(spread) or spread == 0:
        return np.zeros_like(delta)
    return delta / spread


def _lengths(values: Iterable[float] | np.ndarray) -> np.ndarray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)


def _delta_method_se(design: np.ndarray, target: np.ndarray, coefficients: np.ndarray, at: np.ndarray) -> float:
    """Standard error (percent) of the GLM's predicted preference at the row `at`: the delta method
    on a sandwich (heteroskedasticity-robust) covariance of the coefficients, which stays right for
    AlpacaEval's soft labels (a preference in [0, 1] is not a Bernoulli draw):
    cov = A^-1 B A^-1 with A = sum p(1-p) x x', B = sum (y-p)^2 x x'; se = p0 (1-p0) sqrt(at' cov at)."""
    predicted = 1 / (1 + np.exp(-design @ coefficients))
    bread = np.linalg.pinv((design * (predicted * (1 - predicted))[:, None]).T @ design)
    meat = (design * ((target - predicted) ** 2)[:, None]).T @ design
    p0 = float(1 / (1 + np.exp(-at @ coefficients)))
    variance = float(at @ bread @ meat @ bread @ at)
    return 100 * p0 * (1 - p0) * math.sqrt(variance) if variance >= 0 else math.nan


def minimal_glm_fit(target: np.ndarray, baseline: np.ndarray, model: np.ndarray) -> tuple[float, float]:
    """(LC win rate, its standard error), percent: alpaca-eval's minimal GLM fit on rows with known
    lengths (`target`: preferences on [0, 1], NaN where invalid), with no withholding rule applied."""
    import sklearn

    with _quiet_libraries():
        from alpaca_eval.metrics.glm_winrate import GLM_INFO, fit_LogisticRegressionCV, make_dmatrix_for_model

    info = GLM_INFO[VARIANT_MINIMAL]
    train = pd.DataFrame(
        {"preference": target, "std_delta_len": _standardised_delta(baseline, model), "not_gamed_baseline": True}
    )
    test = pd.DataFrame({"not_gamed_baseline": True, "std_delta_len": 0.0}, index=train.index)
    x_train, x_test = make_dmatrix_for_model(train, test, formula=info["formula"])
    x_train = x_train[x_train["preference"].notna()]
    with sklearn.config_context(), _quiet_libraries():  # alpaca-eval sets metadata routing globally; keep it local
        glm = fit_LogisticRegressionCV(x_train, "preference", is_ytrue_proba=True, **info["kwargs"])
    design = x_train.drop(columns=["preference"])
    at = x_test[design.columns].to_numpy(dtype=np.float64)[0]  # every test row is the same: zero length difference
    se = _delta_method_se(design.to_numpy(dtype=np.float64), x_train["preference"].to_numpy(dtype=np.float64), glm.coef_[0], at)
    return float(glm.predict_proba(x_test)[:, 1].mean() * 100), se


def minimal_glm_winrate(
    preferences: Iterable[Any] | np.ndarray,
    baseline_lengths: Iterable[float] | np.ndarray,
    model_lengths: Iterable[float] | np.ndarray,
) -> LengthControlled:
    """Length-controlled win rate (percent) from alpaca-eval's GLM without instruction difficulty, with
    its delta-method standard error; withheld (NaN, with the reason) where `withheld_reason` says so.

    Rows with an unknown length take no part; rows with an invalid preference take no part in the fit
    (they still count in the length standardisation, as in alpaca-eval)."""
    target = preference_unit(preferences)
    base, model = _lengths(baseline_lengths), _lengths(model_lengths)
    if not (target.shape == base.shape == model.shape):
        raise ValueError("preferences, baseline_lengths and model_lengths must have the same length")
    known = ~np.isnan(base) & ~np.isnan(model)
    target, base, model = target[known], base[known], model[known]
    judged = ~np.isnan(target)
    result: LengthControlled = {
        "length_controlled_winrate": math.nan,
        "lc_standard_error": math.nan,
        "lc_variant": VARIANT_MINIMAL,
        "lc_withheld": withheld_reason(base[judged], model[judged]),
    }
    if result["lc_withheld"] is None:
        result["length_controlled_winrate"], result["lc_standard_error"] = minimal_glm_fit(target, base, model)
    return result


def alpaca_eval_v1_winrate(annotations: pd.DataFrame) -> LengthControlled:
    """`length_controlled_v1` through alpaca-eval's own function; needs its hub file cached and the
    rows to be AlpacaEval's 805 instructions in order (difficulty is looked up by position). Its
    figures are alpaca-eval's, standard error included, and never withheld: v1 fits the length term
    jointly with AlpacaEval's two gamed baselines (the same instructions answered far shorter and far
    longer), so its value at equal length is anchored by pairs on both sides whatever the model's lengths."""
    import sklearn

    with _quiet_libraries():
        from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate

    frame = annotations.reset_index(drop=True)[["output_1", "output_2", "generator_1", "generator_2", "preference"]]
    with _hub_cache_only(), sklearn.config_context(), _quiet_libraries():
        metrics = get_length_controlled_winrate(
            frame,
            glm_name=VARIANT_V1,
            save_weights_dir=None,
            is_add_glm_preference_inplace=False,
            is_warn_extreme_changes=False,
        )
    return {
        "length_controlled_winrate": float(metrics["length_controlled_winrate"]),
        "lc_standard_error": float(metrics["lc_standard_error"]),
        "lc_variant": VARIANT_V1,
        "lc_withheld": None,
    }


def v1_applicable(annotations: pd.DataFrame) -> bool:
    """v1 needs the hub file locally and one model vs one baseline on AlpacaEval's 805 instructions."""
    return (
        len(annotations) == ALPACA_EVAL_SET_SIZE
        and annotations["generator_1"].nunique() == 1
        and annotations["generator_2"].nunique() == 1
        and hub_files_cached()
    )


def length_controlled_from_annotations(annotations: pd.DataFrame, variant: str = "auto") -> LengthControlled:
    """LC win rate of AlpacaEval annotations (`output_1`, `output_2`, `preference`, generators).

    variant: "auto" (v1 when applicable, else minimal), "length_controlled_v1" or
    "length_controlled_minimal"."""
    for column in ("output_1", "output_2", "preference"):
        if column not in annotations.columns:
            raise ValueError(f"annotations lack the {column!r} field needed for the length-controlled win rate")
    if variant not in ("auto", VARIANT_V1, VARIANT_MINIMAL):
        raise ValueError(f"unknown length-controlled variant {variant!r}")
    has_generators = {"generator_1", "generator_2"} <= set(annotations.columns)
    if variant == VARIANT_V1 or (variant == "auto" and has_generators and v1_applicable(annotations)):
        if not has_generators:
            raise ValueError("length_controlled_v1 needs generator_1 and generator_2 in the annotations")
        return alpaca_eval_v1_winrate(annotations)
    return minimal_glm_winrate(
        annotations["preference"].to_numpy(),
        annotations["output_1"].fillna("").astype(str).str.len().to_numpy(dtype=np.float64),
        annotations["output_2"].fillna("").astype(str).str.len().to_numpy(dtype=np.float64),
    )


def describe(result: dict[str, Any]) -> str:
    """One line for people: "length-controlled 41.3% ± 3.1 (alpaca_eval GLM, length_controlled_minimal)",
    or "withheld: REASON (...)" — never a number the rule withheld."""
    variant = variant_name(str(result.get("lc_variant") or ""))
    if result.get("lc_withheld"):
        return f"length-controlled win rate withheld: {result['lc_withheld']} ({variant})"
    value = result.get("length_controlled_winrate")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "length-controlled win rate: not computed"
    return (
        f"length-controlled {format_figure(value, 2)}% ± {format_figure(result.get('lc_standard_error'), 2)} "
        f"(standard error; {variant})"
    )


def cell(result: dict[str, Any], digits: int = 2) -> str:
    """The figure for a table cell: "41.30 ± 3.10", "withheld" (its reason goes beside the table),
    or "-" where it was not computed."""
    if result.get("lc_withheld"):
        return "withheld"
    value = result.get("length_controlled_winrate")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{format_figure(value, digits)} ± {format_figure(result.get('lc_standard_error'), digits)}"
