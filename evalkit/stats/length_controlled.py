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

from evalkit.stats.winrate import preference_unit

VARIANT_V1 = "length_controlled_v1"
VARIANT_MINIMAL = "length_controlled_minimal"
ALPACA_EVAL_SET_SIZE = 805
_HUB_REPO = "tatsu-lab/alpaca_eval"
_HUB_FILE = "df_gamed.csv"
_MIN_ROWS = 5  # the GLM's 5-fold grouped cross-validation needs at least 5 rows


class LengthControlled(TypedDict):
    length_controlled_winrate: float
    lc_standard_error: float
    lc_variant: str


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


def minimal_glm_winrate(
    preferences: Iterable[Any] | np.ndarray,
    baseline_lengths: Iterable[float] | np.ndarray,
    model_lengths: Iterable[float] | np.ndarray,
) -> LengthControlled:
    """Length-controlled win rate (percent) from alpaca-eval's GLM without instruction difficulty.

    Its prediction at zero length difference is one constant for every row, so AlpacaEval's
    `lc_standard_error` (the SEM of the predictions) would be 0 by construction and is reported as NaN:
    it would say nothing about sampling uncertainty."""
    import sklearn

    with _quiet_libraries():
        from alpaca_eval.metrics.glm_winrate import GLM_INFO, fit_LogisticRegressionCV, make_dmatrix_for_model

    target = preference_unit(preferences)
    base = np.asarray(
        list(baseline_lengths) if not isinstance(baseline_lengths, np.ndarray) else baseline_lengths, dtype=np.float64
    )
    model = np.asarray(list(model_lengths) if not isinstance(model_lengths, np.ndarray) else model_lengths, dtype=np.float64)
    if not (target.shape == base.shape == model.shape):
        raise ValueError("preferences, baseline_lengths and model_lengths must have the same length")
    known = ~np.isnan(base) & ~np.isnan(model)
    target, base, model = target[known], base[known], model[known]
    result: LengthControlled = {
        "length_controlled_winrate": math.nan,
        "lc_standard_error": math.nan,
        "lc_variant": VARIANT_MINIMAL,
    }
    if np.count_nonzero(~np.isnan(target)) < _MIN_ROWS:
        return result
    info = GLM_INFO[VARIANT_MINIMAL]
    train = pd.DataFrame({"preference": target, "std_delta_len": _standardised_delta(base, model), "not_gamed_baseline": True})
    test = pd.DataFrame({"not_gamed_baseline": True, "std_delta_len": 0.0}, index=train.index)
    x_train, x_test = make_dmatrix_for_model(train, test, formula=info["formula"])
    x_train = x_train[x_train["preference"].notna()]
    with sklearn.config_context(), _quiet_libraries():  # alpaca-eval sets metadata routing globally; keep it local
        glm = fit_LogisticRegressionCV(x_train, "preference", is_ytrue_proba=True, **info["kwargs"])
    result["length_controlled_winrate"] = float(glm.predict_proba(x_test)[:, 1].mean() * 100)
    return result


def alpaca_eval_v1_winrate(annotations: pd.DataFrame) -> LengthControlled:
    """`length_controlled_v1` through alpaca-eval's own function; needs its hub file cached and the
    rows to be AlpacaEval's 805 instructions in order (difficulty is looked up by position)."""
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
