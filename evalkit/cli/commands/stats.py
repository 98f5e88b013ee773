"""`evalkit stats`: win rates, confidence intervals, paired tests and rankings, from AlpacaEval
annotation files or from the judgments in the store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from evalkit.cli.commands.combined import register_combined
from evalkit.cli.commands.common import add_db_flag, add_json_flag
from evalkit.cli.commands.sequential import register_sequential
from evalkit.core.errors import EvalkitError
from evalkit.core.rounding import format_figure

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.jobs.stats import Bootstrap


def _add_bootstrap_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bootstrap")
    group.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    group.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    group.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="win rates, intervals, significance tests, rankings",
        description="Statistics over AlpacaEval annotation files or the store's judgments.",
    )
    sub = parser.add_subparsers(dest="stats_command", metavar="SUBCOMMAND")
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)

    winrate = sub.add_parser(
        "winrate",
        help="AlpacaEval's win rate of an annotations.json",
        description="The seven fields of AlpacaEval's leaderboard, computed as AlpacaEval does.",
    )
    winrate.add_argument("--annotations", required=True, help="AlpacaEval annotations.json (or .jsonl)")
    winrate.add_argument(
        "--length-controlled",
        action="store_true",
        help="add the length-controlled win rate, its standard error and the GLM variant used; withheld, with the "
        "reason, where the fit would extrapolate to equal length",
    )
    add_json_flag(winrate)
    winrate.set_defaults(handler=run_winrate)

    compare = sub.add_parser(
        "compare",
        help="is model A better than model B on the same prompts?",
        description="Paired bootstrap of the win-rate difference, sign test, and (store) Wilcoxon signed-rank on Likert scores.",
    )
    compare.add_argument(
        "--annotations",
        nargs=2,
        metavar=("A.json", "B.json"),
        help="two AlpacaEval annotation files against the same baseline, paired by instruction",
    )
    compare.add_argument("--model", action="append", default=None, help="with the store: a model name or id (give twice)")
    add_db_flag(compare)
    _add_bootstrap_flags(compare)
    add_json_flag(compare)
    compare.set_defaults(handler=run_compare)

    summary = sub.add_parser(
        "summary",
        help="per (judge, model, baseline) summary of the store's judgments",
        description="Win/tie/loss, win rate ± SE with its bootstrap interval, and the length-controlled win rate "
        "± SE with its GLM variant (withheld, with the reason, where the fit would extrapolate); grades with "
        "their interval. Models in natural epoch order.",
    )
    summary.add_argument("--no-length-controlled", action="store_true", help="skip the length-controlled GLM fits")
    add_db_flag(summary)
    _add_bootstrap_flags(summary)
    add_json_flag(summary)
    summary.set_defaults(handler=run_summary)

    register_combined(sub)
    register_sequential(sub)

    spec = sub.add_parser(
        "spec",
        help="the stored configuration of a judge spec hash (template text, parse rule, sampling)",
        description="Every figure names its judge by spec hash; this prints what the hash stands for.",
    )
    spec.add_argument("hash", help="a judge spec hash or its first characters (as shown in tables)")
    add_db_flag(spec)
    spec.set_defaults(handler=run_spec)

    runs = sub.add_parser(
        "runs",
        help="the evaluating runs recorded in the store (status, configuration, evalkit version, git revision)",
        description="status: running, finished, failed, interrupted (Ctrl-C, SIGTERM), or ended (killed) for a run "
        "recorded as running whose process on this host is gone (SIGKILL).",
    )
    add_db_flag(runs)
    add_json_flag(runs)
    runs.set_defaults(handler=run_runs)

    ranking = sub.add_parser("ranking", help="Bradley-Terry ranking with bootstrap intervals")
    ranking.add_argument(
        "--annotations", nargs="+", default=None, help="AlpacaEval annotation files (model = generator_2, baseline = generator_1)"
    )
    add_db_flag(ranking)
    _add_bootstrap_flags(ranking)
    add_json_flag(ranking)
    ranking.set_defaults(handler=run_ranking)


def bootstrap_from_args(args: argparse.Namespace) -> Bootstrap:
    """The bootstrap flags, checked before any file or store is read."""
    from evalkit.jobs.stats import Bootstrap

    bootstrap = Bootstrap(resamples=args.resamples, level=args.level, seed=args.seed)
    bootstrap.check()
    return bootstrap


def run_winrate(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_json
    from evalkit.jobs.stats import annotation_winrate
    from evalkit.stats.length_controlled import describe

    result = annotation_winrate(args.annotations, args.length_controlled).as_dict()
    if args.json:
        print_json(result)
        return 0
    print(
        f"win rate {format_figure(result['win_rate'], 2)}% ± {format_figure(result['standard_error'], 2)} (standard error), "
        f"discrete {format_figure(result['discrete_win_rate'], 2)}%"
    )
    print(f"{result['n_total']} valid: {result['n_wins']} wins, {result['n_wins_base']} baseline wins, {result['n_draws']} draws")
    if args.length_controlled:
        print(describe(result))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_frame, print_json
    from evalkit.jobs.stats import compare_annotations, compare_models

    bootstrap = bootstrap_from_args(args)
    if args.annotations:
        result = compare_annotations(args.annotations[0], args.annotations[1], bootstrap).as_dict()
        if args.json:
            print_json(result)
        else:
            from evalkit.core.rounding import format_figure as fig

            print(
                f"A {fig(result['win_rate_a'], 2)}% vs B {fig(result['win_rate_b'], 2)}% on {result['n']} shared prompts: "
                f"difference {fig(result['difference'], 2, sign=True)} [{fig(result['ci_low'], 2, sign=True)}, "
                f"{fig(result['ci_high'], 2, sign=True)}] (bootstrap p={fig(result['p_bootstrap'], 4)}); "
                f"sign test {result['n_a_better']}:{result['n_b_better']} p={result['p_sign']:.4g}"
            )
        return 0
    if not args.model or len(args.model) != 2:
        raise EvalkitError("stats compare needs --annotations A.json B.json, or --model A --model B with the store")
    compared = compare_models(args.model[0], args.model[1], bootstrap, args.db)
    if args.json:
        print_json({"pairwise": compared.pairwise, "likert": compared.likert})
    else:
        print_frame("pairwise (win rates in %)", compared.pairwise)
        print_frame("likert", compared.likert)
    return 0


def run_summary(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_frame, print_json
    from evalkit.jobs.stats import store_summary
    from evalkit.stats.length_controlled import LC_FIELDS

    summary = store_summary(bootstrap_from_args(args), args.db, length_controlled=not args.no_length_controlled)
    if args.json:
        print_json({"pairwise": summary.pairwise, "likert": summary.single})
        return 0
    from evalkit.core.vocabulary import format_reasons

    shorten = {"decoding": 12, "baseline_decoding": 12}
    pairwise = summary.pairwise.assign(**{c: summary.pairwise[c].str[:n] for c, n in shorten.items() if c in summary.pairwise})
    single = (
        summary.single.assign(decoding=summary.single["decoding"].str[:12]) if "decoding" in summary.single else summary.single
    )
    pairwise, single = (
        frame.assign(invalid_reasons=frame["invalid_reasons"].map(format_reasons)) if "invalid_reasons" in frame else frame
        for frame in (pairwise, single)
    )
    print_frame(
        "comparisons with a baseline (percent)",
        pairwise,
        [
            "judge_kind",
            "judge_model",
            "model",
            "decoding",
            "baseline",
            "baseline_decoding",
            "n",
            "n_invalid",
            "invalid_reasons",
            "win_pct",
            "tie_pct",
            "loss_pct",
            "win_rate",
            "standard_error",
            "ci_low",
            "ci_high",
        ],
    )
    if "combined" in pairwise:
        print_frame(
            f"combined human + judge win rates (percent, PPI++, {args.level:.0%} interval; human-only beside it), "
            "where human labels exist",
            combined_cells(pairwise),
        )
    if not args.no_length_controlled:
        print_frame(
            "length-controlled win rates (percent, alpaca_eval's GLM; withheld where its value at equal length "
            "would be an extrapolation)",
            pairwise,
            ["judge_kind", "judge_model", "model", "decoding", "baseline", *LC_FIELDS],
        )
    print_frame(
        "single-answer grades (mean over a prompt's samples, then over prompts)",
        single,
        ["judge_kind", "judge_model", "model", "decoding", "n", "n_invalid", "invalid_reasons", "mean", "ci_low", "ci_high"],
    )
    return 0


def combined_cells(pairwise: pd.DataFrame) -> pd.DataFrame:
    """The rows with a combined figure, each interval as one "52.3 [45.1, 59.5]" cell (one decimal)."""

    def cell(estimate: object, low: object, high: object) -> str:
        return f"{format_figure(estimate, 1)} [{format_figure(low, 1)}, {format_figure(high, 1)}]"

    rows = pairwise[pairwise["combined"].notna()]
    return rows[["judge_kind", "judge_model", "model", "decoding", "baseline", "win_rate"]].assign(
        win_rate=[format_figure(value, 1) for value in rows["win_rate"]],
        combined=[cell(*values) for values in zip(rows["combined"], rows["combined_ci_low"], rows["combined_ci_high"])],
        human_only=[cell(*values) for values in zip(rows["human_only"], rows["human_only_ci_low"], rows["human_only_ci_high"])],
        n_humans=[format_figure(value, 0) for value in rows["n_humans"]],
        effective_n_humans=[format_figure(value, 1) for value in rows["effective_n_humans"]],
        ppi_lambda=[format_figure(value, 3) for value in rows["ppi_lambda"]],
    )


def run_spec(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_json
    from evalkit.jobs.stats import judge_spec

    print_json(judge_spec(args.hash, args.db))
    return 0


def run_runs(args: argparse.Namespace) -> int:
    import pandas as pd

    from evalkit.cli.commands._statsio import print_frame, print_json
    from evalkit.jobs.stats import evaluation_runs

    frame = evaluation_runs(args.db)
    if args.json:
        print_json(frame)
        return 0
    shown = (
        frame.assign(
            judges=[", ".join(j["kind"] for j in config.get("judges", [])) for config in frame["config"]],
            decoding=[str(config.get("decoding_hash", ""))[:12] for config in frame["config"]],
        )
        if not frame.empty
        else pd.DataFrame()
    )
    print_frame(
        "evaluating runs",
        shown,
        ["id", "command", "status", "started_at", "finished_at", "evalkit_version", "git_revision", "judges", "decoding"],
    )
    return 0


def run_ranking(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_frame, print_json
    from evalkit.jobs.stats import ranking

    table = ranking(bootstrap_from_args(args), args.annotations, args.db)
    if args.json:
        print_json(table)
    else:
        print_frame(
            "Bradley-Terry (strength in log-odds; rank interval from the bootstrap)",
            table,
            ["judge_model", "model", "strength", "ci_low", "ci_high", "elo", "rank", "rank_low", "rank_high", "n"],
        )
    return 0
