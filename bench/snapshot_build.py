"""What building the leaderboard's snapshot costs: every judgment read into pandas (the way before
issue 26's database tallies) against the database's per-prompt tallies, each job in a fresh process,
time and peak memory.

    python bench/snapshot_build.py --db postgresql+psycopg://USER@HOST/DB    # e.g. the 10x store of bench/leaderboard_data.py

Jobs (each in a new process; peak = the process's VmHWM / ru_maxrss):
- rows: the baseline. Every judgment row into pandas (`judged_tables`), then everything the snapshot
  holds from those rows: each scope's summary and combined win rates, judge bias, length bins and the
  length-controlled win rates (what snapshot.py did before);
- summaries: `build_snapshot` from the database's per-prompt tallies (what pages wait for on a store
  never seen), with the tallies saved for the next job;
- row figures: the LC win rates, judge bias and length bins, read a few models at a time (row_figures.py;
  pages are served meanwhile);
- refresh: the rebuild after one more checkpoint was judged: the saved tallies taken as one checkpoint
  behind (its judgments, the newest ids, are the new ones), so only that model is read again.

Both ways' figures are checked equal by the tests (tests/results/test_tally_summary.py,
tests/leaderboard/test_row_figures.py); here the summaries of `rows` and `summaries` are compared too.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rows_way(url: str) -> Any:
    """The snapshot's contents computed from every judgment row in pandas."""
    import pandas as pd

    from evalkit.leaderboard.judged_rows import judged_tables
    from evalkit.leaderboard.snapshot import scopes_of
    from evalkit.leaderboard.tables import length_bins
    from evalkit.results.agreement import judge_biases
    from evalkit.results.combined import combined_win_rates, draw_designs, with_combined
    from evalkit.results.summary import Scope, select, summarize
    from evalkit.store import Store
    from evalkit.store import annotations as annotation_store
    from evalkit.store.catalog_reads import prompt_set_members
    from tests.leaderboard.row_reference import length_control_table

    started = time.perf_counter()
    store = Store(url, read_only=True)
    tables = judged_tables(store)
    judged = set().union(*(frame["prompt_hash"] for frame in (tables.pairwise, tables.alpaca, tables.single)))
    labels = annotation_store.labels(store)
    designs = draw_designs(store, sorted({int(b) for b in labels["batch_id"]})) if not labels.empty else {}
    scopes = scopes_of(prompt_set_members(store), judged)
    parts = []
    for scope, hashes in scopes.items():
        summary = summarize(tables, Scope(prompt_hashes=hashes))
        combined = combined_win_rates(select(tables, Scope(prompt_hashes=hashes)).comparisons, labels, designs=designs)
        parts.append(with_combined(summary.pairwise, combined).assign(scope=scope))
    both = tables.comparisons
    judge_biases(both), length_bins(both)
    first_view = time.perf_counter() - started  # what the build before issue 26 did before serving
    length_control_table(both, prompt_set_members(store), judged)
    return pd.concat(parts, ignore_index=True), first_view


def _summaries_way(url: str, tallies_at: str) -> Any:
    from evalkit.leaderboard.snapshot_build import build_snapshot_at

    return build_snapshot_at(url, "bench", Path(tallies_at)).pairwise_summary


def _row_figures(url: str, tallies_at: str) -> None:
    from evalkit.leaderboard.row_figures import row_figures
    from evalkit.leaderboard.snapshot import scopes_of
    from evalkit.leaderboard.snapshot_build import compared_pairs, judged_prompts
    from evalkit.leaderboard.tally_files import load_tallies
    from evalkit.store import Store
    from evalkit.store.catalog_reads import prompt_set_members

    saved = load_tallies(Path(tallies_at))
    assert saved is not None
    store = Store(url, read_only=True)
    scopes = scopes_of(prompt_set_members(store), judged_prompts(saved.tallies))
    row_figures(store, scopes, compared_pairs(saved.tallies))


def _refresh(url: str, tallies_at: str, per_checkpoint: int) -> None:
    from evalkit.leaderboard.snapshot_build import build_snapshot_at
    from evalkit.leaderboard.tally_files import load_tallies, save_tallies
    from evalkit.results.tally_refresh import WatermarkedTallies, anchors_of
    from evalkit.store import Store

    saved = load_tallies(Path(tallies_at))
    assert saved is not None
    before = saved.max_judgment_id - per_checkpoint
    anchors = anchors_of(Store(url, read_only=True), before)
    behind = WatermarkedTallies(saved.tallies, before, saved.n_uses - per_checkpoint, anchors)
    save_tallies(behind, Path(tallies_at))
    build_snapshot_at(url, "bench", Path(tallies_at))


def _job(name: str, args: tuple[Any, ...], answers: Any) -> None:
    start = time.perf_counter()
    jobs: dict[str, Callable[..., Any]] = {
        "rows": _rows_way,
        "summaries": _summaries_way,
        "row figures": _row_figures,
        "refresh": _refresh,
    }
    result = jobs[name](*args)
    seconds = time.perf_counter() - start
    answers.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, result))


def in_fresh_process(name: str, *args: Any) -> tuple[float, float, Any]:
    """(seconds, peak resident MiB of the whole process, the job's result) of one job in a new process."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    process = context.Process(target=_job, args=(name, args, answers))
    process.start()
    answer = answers.get()
    process.join()
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument(
        "--per-checkpoint", type=int, default=6 * 833, help="judgments of one checkpoint (10x store: 6 calls x 833 prompts)"
    )
    parser.add_argument("--skip-rows", action="store_true", help="no baseline (every judgment into pandas)")
    args = parser.parse_args()
    import pandas as pd

    with tempfile.TemporaryDirectory() as scratch:
        tallies_at = str(Path(scratch) / "snapshot.tallies")
        new_s, new_mb, new_summary = in_fresh_process("summaries", args.db, tallies_at)
        print(f"summaries from the database's tallies: {new_s:.1f} s, peak {new_mb:.0f} MiB", flush=True)
        rows_s, rows_mb, _ = in_fresh_process("row figures", args.db, tallies_at)
        print(
            f"row figures (LC, judge bias, length bins), a few models at a time: {rows_s:.1f} s, peak {rows_mb:.0f} MiB",
            flush=True,
        )
        refresh_s, refresh_mb, _ = in_fresh_process("refresh", args.db, tallies_at, args.per_checkpoint)
        print(f"rebuild after one more checkpoint (its tallies only): {refresh_s:.1f} s, peak {refresh_mb:.0f} MiB", flush=True)
        if args.skip_rows:
            return
        old_s, old_mb, (old_summary, old_first) = in_fresh_process("rows", args.db)
        print(
            f"baseline, every judgment into pandas: {old_s:.1f} s in all, {old_first:.1f} s before the LC win rates "
            f"(what pages waited for), peak {old_mb:.0f} MiB",
            flush=True,
        )
        pd.testing.assert_frame_equal(new_summary, old_summary, rtol=1e-9)
        print(
            f"same summaries. Against the baseline: peak memory {old_mb / max(new_mb, rows_mb, refresh_mb):.1f}x lower; "
            f"until pages are served {old_first / new_s:.2f}x; everything {old_s / (new_s + rows_s):.2f}x; "
            f"the rebuild after a checkpoint {old_first / refresh_s:.1f}x (against the baseline's full rebuild)",
            flush=True,
        )


if __name__ == "__main__":
    main()
