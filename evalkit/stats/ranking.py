"""Bradley-Terry ranking of many models / checkpoints from pairwise outcomes, with bootstrap CIs and
rank intervals.

P(i beats j) = sigmoid(s_i - s_j). A tie counts as half a win for each side. Strengths are the
maximum-likelihood fit with a tiny ridge penalty (`ridge`), which keeps them finite when a model won
or lost every comparison and centres each connected group of models at mean 0 (the likelihood only
sees differences). All bootstrap fits run at once: batched Newton steps, warm-started at the full-data
fit, over resamples of whole clusters (prompts), so every battle on a prompt moves together.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from evalkit.stats.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, cluster_codes, percentile_interval, resampled_sums

DEFAULT_RIDGE = 1e-4
_CHORD_STEPS = 25
ELO_SCALE = 400 / math.log(10)  # strength -> Elo points (base-10 logistic with scale 400), for display


def _battle_tables(
    player_a: Sequence[Hashable] | np.ndarray,
    player_b: Sequence[Hashable] | np.ndarray,
    score_a: np.ndarray,
    clusters: Sequence[Hashable] | np.ndarray | None,
) -> tuple[list[Hashable], np.ndarray, np.ndarray, np.ndarray]:
    """Players, pair incidence D (pairs x players), and per-cluster (wins of the pair's first, games)."""
    players_a, players_b = np.asarray(player_a, dtype=object), np.asarray(player_b, dtype=object)
    keep = ~np.isnan(score_a) & (players_a != players_b)
    codes, players = pd.factorize(np.concatenate([players_a[keep], players_b[keep]]), sort=True)
    n_keep, n_players = int(keep.sum()), len(players)
    i, j, s = codes[:n_keep], codes[n_keep:], score_a[keep]
    first, second = np.minimum(i, j), np.maximum(i, j)
    wins_first = np.where(i == first, s, 1.0 - s)
    pair_codes, pairs = pd.factorize(first.astype(np.int64) * n_players + second, sort=True)
    incidence = np.zeros((len(pairs), n_players))
    incidence[np.arange(len(pairs)), pairs // n_players] = 1.0
    incidence[np.arange(len(pairs)), pairs % n_players] = -1.0
    cluster = np.arange(n_keep) if clusters is None else cluster_codes(np.asarray(clusters, dtype=object)[keep])
    n_clusters = int(cluster.max()) + 1 if n_keep else 0
    flat = cluster * len(pairs) + pair_codes
    wins = np.bincount(flat, weights=wins_first, minlength=n_clusters * len(pairs)).reshape(n_clusters, len(pairs))
    games = np.bincount(flat, minlength=n_clusters * len(pairs)).reshape(n_clusters, len(pairs)).astype(np.float64)
    return list(players), incidence, wins, games


def _gradient(
    theta: np.ndarray, wins: np.ndarray, games: np.ndarray, incidence: np.ndarray, ridge: float
) -> tuple[np.ndarray, np.ndarray]:
    prob = expit(theta @ incidence.T)
    return (wins - games * prob) @ incidence - ridge * theta, prob


def _hessians(games: np.ndarray, prob: np.ndarray, incidence: np.ndarray, ridge: float) -> np.ndarray:
    """Negative Hessians (batch, players, players): sum over pairs of w_p d_p d_p^T, as one GEMM."""
    n_players = incidence.shape[1]
    outer = (incidence[:, :, None] * incidence[:, None, :]).reshape(incidence.shape[0], -1)
    flat = (games * prob * (1.0 - prob)) @ outer
    return flat.reshape(-1, n_players, n_players) + ridge * np.eye(n_players)


def connected_groups(incidence: np.ndarray) -> np.ndarray:
    """Component label of every player in the graph of pairs that met."""
    n_players = incidence.shape[1]
    if incidence.shape[0] == 0:
        return np.arange(n_players)
    graph = coo_matrix(
        (np.ones(incidence.shape[0]), (incidence.argmax(axis=1), incidence.argmin(axis=1))), shape=(n_players, n_players)
    )
    return connected_components(graph, directed=False)[1]


def _centring(incidence: np.ndarray) -> np.ndarray:
    """Projection that subtracts each connected group's mean strength. The penalised optimum is
    centred already; projecting every step keeps rounding from drifting along the free offset."""
    group = connected_groups(incidence)
    same = (group[:, None] == group[None, :]).astype(np.float64)
    return np.eye(len(group)) - same / same.sum(axis=1, keepdims=True)


def fit_strengths(
    wins: np.ndarray,
    games: np.ndarray,
    incidence: np.ndarray,
    ridge: float = DEFAULT_RIDGE,
    start: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> np.ndarray:
    """Penalised ML strengths for a batch of win tables: wins/games (batch, pairs) -> (batch, players).

    `wins` counts the pair's first player (incidence +1), ties as 0.5. From a shared warm start
    (bootstrap resamples of one data set) most rows converge with chord steps, which reuse one Hessian
    for the whole batch; rows that do not are finished with full Newton steps."""
    if ridge <= 0:
        raise ValueError("the ridge penalty must be positive (it pins down the scale's free offset)")
    batch, n_players = wins.shape[0], incidence.shape[1]
    theta = np.zeros((batch, n_players)) if start is None else np.array(np.broadcast_to(start, (batch, n_players)))
    centre = _centring(incidence)
    active = np.arange(batch)
    if start is not None and batch > 1:
        typical_games = games.mean(axis=0, keepdims=True)
        prob = expit(theta[:1] @ incidence.T)
        shared_inverse = np.linalg.inv(_hessians(typical_games, prob, incidence, ridge)[0])
        for _ in range(_CHORD_STEPS):
            if active.size == 0:
                return theta
            gradient, _ = _gradient(theta[active], wins[active], games[active], incidence, ridge)
            new = (theta[active] + np.clip(gradient @ shared_inverse, -5.0, 5.0)) @ centre
            moved = np.abs(new - theta[active]).max(axis=1)
            theta[active] = new
            active = active[moved > tol]
    for _ in range(max_iter):
        if active.size == 0:
            break
        t = theta[active]
        gradient, prob = _gradient(t, wins[active], games[active], incidence, ridge)
        step = np.linalg.solve(_hessians(games[active], prob, incidence, ridge), gradient[:, :, None])[:, :, 0]
        new = (t + np.clip(step, -5.0, 5.0)) @ centre  # clipped: a far start must not overshoot into overflow
        theta[active] = new
        active = active[np.abs(new - t).max(axis=1) > tol]
    return theta


def _ranks(theta: np.ndarray, component: np.ndarray) -> np.ndarray:
    """1 + number of players in the same connected group that are strictly stronger (ties share a
    rank); rows of a 2-D batch are processed in blocks so many players do not exhaust memory."""
    same = component[:, None] == component[None, :]
    batch = np.atleast_2d(theta)
    ranks = np.empty(batch.shape, dtype=np.int64)
    step = max(1, 20_000_000 // max(batch.shape[1] ** 2, 1))
    for start in range(0, batch.shape[0], step):
        block = batch[start : start + step]
        stronger = block[:, None, :] > block[:, :, None]  # [b, i, j]: j stronger than i
        ranks[start : start + step] = 1 + (stronger & same).sum(axis=-1)
    return ranks.reshape(theta.shape)


def bradley_terry(
    player_a: Sequence[Hashable] | np.ndarray,
    player_b: Sequence[Hashable] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    clusters: Sequence[Hashable] | np.ndarray | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    ridge: float = DEFAULT_RIDGE,
) -> pd.DataFrame:
    """Rank players from battles: score_a = 1 (a won), 0.5 (tie), 0 (b won), NaN (dropped).

    Returns one row per player, strongest first: `player`, `strength` (log-odds, mean 0 within its
    connected group), `ci_low`/`ci_high` (percentile bootstrap), `elo` (strength on the Elo scale,
    centred at 1000), `rank` and `rank_low`/`rank_high` (bootstrap rank interval at `level`),
    `n` (battles played) and `component` (players in different components were never compared,
    directly or indirectly; their strengths are not comparable)."""
    scores = np.asarray(score_a, dtype=np.float64)
    if not (len(player_a) == len(player_b) == scores.size) or (clusters is not None and len(clusters) != scores.size):
        raise ValueError("player_a, player_b, score_a (and clusters) must have the same length")
    players, incidence, wins, games = _battle_tables(player_a, player_b, scores, clusters)
    columns = ["player", "strength", "ci_low", "ci_high", "elo", "rank", "rank_low", "rank_high", "n", "component"]
    if not players:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "player" else float) for c in columns})
    n_games = np.abs(incidence).T @ games.sum(axis=0)
    component = connected_groups(incidence)
    theta = fit_strengths(wins.sum(axis=0)[None], games.sum(axis=0)[None], incidence, ridge)[0]
    if n_resamples > 0 and wins.shape[0] > 0:
        resampled = resampled_sums(np.hstack([wins, games]), n_resamples, seed)
        n_pairs = incidence.shape[0]
        boot = fit_strengths(resampled[:, :n_pairs], resampled[:, n_pairs:], incidence, ridge, start=theta)
        ci_low, ci_high = percentile_interval(boot, level)
        boot_ranks = _ranks(boot, component)
        alpha = (1 - level) / 2
        rank_low = np.quantile(boot_ranks, alpha, axis=0, method="lower")
        rank_high = np.quantile(boot_ranks, 1 - alpha, axis=0, method="higher")
    else:
        ci_low = ci_high = np.full(len(players), np.nan)
        rank_low = rank_high = np.full(len(players), np.nan)
    frame = pd.DataFrame(
        {
            "player": players,
            "strength": theta,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "elo": 1000 + ELO_SCALE * theta,
            "rank": _ranks(theta, component),
            "rank_low": rank_low,
            "rank_high": rank_high,
            "n": n_games.astype(int),
            "component": component,
        }
    )
    order = np.lexsort((frame["player"].astype(str).to_numpy(), frame["rank"].to_numpy(), frame["component"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)[columns]
