"""`evalkit stats`: win rates, confidence intervals, paired tests and rankings, from AlpacaEval
annotation files or from the judgments in the store."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from evalkit.commands.common import add_db_flag, add_json_flag


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


def check_bootstrap_flags(args: argparse.Namespace) -> None:
    from evalkit.errors import EvalkitError

    if args.resamples < 1:
        raise EvalkitError(f"--resamples must be at least 1, got {args.resamples}")
    if not 0 < args.level < 1:
        raise EvalkitError(f"--level must be between 0 and 1 (e.g. 0.95), got {args.level}")


def run_winrate(args: argparse.Namespace) -> int:
    from evalkit.commands._statsio import print_json, read_annotations, stats_error
    from evalkit.rounding import format_figure
    from evalkit.stats.length_controlled import describe, length_controlled_from_annotations
    from evalkit.stats.winrate import alpaca_winrate

    annotations = read_annotations(args.annotations)
    result: dict[str, object] = dict(alpaca_winrate(annotations["preference"]))
    if args.length_controlled:
        try:
            result.update(length_controlled_from_annotations(annotations))
        except ValueError as exc:
            raise stats_error(exc) from None
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


def _paired_annotations(path_a: str, path_b: str):  # type: ignore[no-untyped-def]
    """Two annotation files' preferences aligned by instruction (the k-th repeat pairs with the k-th)."""
    import pandas as pd

    from evalkit.commands._statsio import read_annotations
    from evalkit.errors import EvalkitError
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


def run_compare(args: argparse.Namespace) -> int:
    from evalkit.commands._statsio import as_players, print_frame, print_json, store_tables
    from evalkit.errors import EvalkitError
    from evalkit.stats.compare import paired_bootstrap_difference, sign_test

    check_bootstrap_flags(args)
    if args.annotations:
        a, b = _paired_annotations(*args.annotations)
        diff = paired_bootstrap_difference(a * 100, b * 100, args.resamples, args.level, args.seed)
        sign = sign_test(a, b)
        result = {
            "a": args.annotations[0],
            "b": args.annotations[1],
            "n": diff["n"],
            "win_rate_a": diff["mean_a"],
            "win_rate_b": diff["mean_b"],
            "difference": diff["difference"],
            "ci_low": diff["ci_low"],
            "ci_high": diff["ci_high"],
            "p_bootstrap": diff["p_value"],
            "n_a_better": sign["n_a_better"],
            "n_b_better": sign["n_b_better"],
            "n_equal": sign["n_equal"],
            "p_sign": sign["p_value"],
        }
        if args.json:
            print_json(result)
        else:
            from evalkit.rounding import format_figure as fig

            print(
                f"A {fig(result['win_rate_a'], 2)}% vs B {fig(result['win_rate_b'], 2)}% on {result['n']} shared prompts: "
                f"difference {fig(result['difference'], 2, sign=True)} [{fig(result['ci_low'], 2, sign=True)}, "
                f"{fig(result['ci_high'], 2, sign=True)}] (bootstrap p={fig(result['p_bootstrap'], 4)}); "
                f"sign test {result['n_a_better']}:{result['n_b_better']} p={result['p_sign']:.4g}"
            )
        return 0
    if not args.model or len(args.model) != 2:
        raise EvalkitError("stats compare needs --annotations A.json B.json, or --model A --model B with the store")
    import pandas as pd

    from evalkit.stats.head_to_head import compare_likert, compare_pairwise

    _, pairwise, likert = store_tables(args.db)
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
            results[name] = compare(table, *args.model, args.resamples, args.level, args.seed)
        except ValueError as exc:  # e.g. a model judged only by the other kind of judge
            problems.append(str(exc))
    pair_rows, likert_rows = results["pairwise"], results["likert"]
    if pair_rows.empty and likert_rows.empty:
        reason = problems[0] if problems else "they share no judged prompts"
        raise EvalkitError(
            f"cannot compare {args.model[0]!r} with {args.model[1]!r}: {reason}; judge both on the same prompts first"
        )
    if args.json:
        print_json({"pairwise": pair_rows, "likert": likert_rows})
    else:
        print_frame("pairwise (win rates in %)", pair_rows)
        print_frame("likert", likert_rows)
    return 0


def run_summary(args: argparse.Namespace) -> int:
    from evalkit.commands._statsio import print_frame, print_json
    from evalkit.results.summary import summarize_store
    from evalkit.settings import db_url
    from evalkit.stats.length_controlled import LC_FIELDS
    from evalkit.store import Store

    check_bootstrap_flags(args)
    summary = summarize_store(
        Store(db_url(args.db), read_only=True),
        n_resamples=args.resamples,
        level=args.level,
        seed=args.seed,
        length_controlled=not args.no_length_controlled,
    )
    if args.json:
        print_json({"pairwise": summary.pairwise, "likert": summary.single})
        return 0
    from evalkit.vocabulary import format_reasons

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


def run_spec(args: argparse.Namespace) -> int:
    from evalkit.commands._statsio import print_json
    from evalkit.errors import EvalkitError
    from evalkit.settings import db_url
    from evalkit.store import Store
    from evalkit.store.provenance import judge_specs

    if len(args.hash) < 4:
        raise EvalkitError("give at least 4 characters of the spec hash")
    found = judge_specs(Store(db_url(args.db), read_only=True), args.hash)
    if not found:
        raise EvalkitError(f"no judge spec with hash {args.hash!r} in the store")
    print_json(found)
    return 0


def run_runs(args: argparse.Namespace) -> int:
    import pandas as pd

    from evalkit.commands._statsio import print_frame, print_json
    from evalkit.settings import db_url
    from evalkit.store import Store
    from evalkit.store.run_states import runs_with_states

    frame = runs_with_states(Store(db_url(args.db), read_only=True))
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
    import pandas as pd

    from evalkit.commands._statsio import as_players, print_frame, print_json, read_annotations, store_tables
    from evalkit.errors import EvalkitError
    from evalkit.stats.head_to_head import rank_models

    check_bootstrap_flags(args)
    if args.annotations:
        frames = []
        for path in args.annotations:
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
        _, table, _ = store_tables(args.db)
        table = as_players(table)
        if table.empty:
            raise EvalkitError("the store has no pairwise judgments to rank; run a pairwise or alpaca_eval judge first")
    ranking = rank_models(table, args.resamples, args.level, args.seed)
    if args.json:
        print_json(ranking)
    else:
        print_frame(
            "Bradley-Terry (strength in log-odds; rank interval from the bootstrap)",
            ranking,
            ["judge_model", "model", "strength", "ci_low", "ci_high", "elo", "rank", "rank_low", "rank_high", "n"],
        )
    return 0
