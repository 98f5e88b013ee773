"""The leaderboard's server process: read the results store, then serve the app.

`evalkit leaderboard` runs `python -m evalkit.leaderboard.server APP [streamlit options]`. Reading a
large store takes seconds (100 checkpoints x 805 prompts x 3 judges: ~3 s); doing it here, before
Streamlit accepts connections, means no page view ever waits for it. A store seen before starts from
its saved snapshot (cache.py) in a fraction of that. Streamlit's imports run while the store is read.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from evalkit.core.settings import db_url
from evalkit.leaderboard.cache import Served, shared_cache
from evalkit.leaderboard.worker import stop_all


def _prepare(url: str, out: dict[str, object]) -> None:
    try:
        out["served"] = shared_cache(url).prepare()
    except Exception as exc:  # the pages show the error; the server still starts
        out["error"] = f"{exc.__class__.__name__}: {exc}"


def _report(out: dict[str, object], started_at: float, seconds: float) -> str:
    if "error" in out:
        return f"evalkit leaderboard: could not read the results store ({out['error']}); pages will show it"
    served = out["served"]
    assert isinstance(served, Served)
    snapshot = served.snapshot
    rows = len(snapshot.pairwise_summary) + len(snapshot.likert_summary)
    how = "read from the store" if snapshot.built_at >= started_at else "loaded from the snapshot saved earlier"
    return f"evalkit leaderboard: {len(snapshot.models)} models, {rows:,} summary rows {how} in {seconds:.1f} s" + (
        f"; {served.error}" if served.error else ""
    )


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    url = db_url(None)  # EVALKIT_DB, set by `evalkit leaderboard`
    started, started_at = time.perf_counter(), time.time()
    out: dict[str, object] = {}
    reader = threading.Thread(target=_prepare, args=(url, out), name="evalkit-prepare", daemon=True)
    reader.start()
    from streamlit.web import cli as streamlit_cli  # ~1 s of imports, overlapping the store read

    import evalkit.leaderboard.charts  # noqa: F401  (altair: the pages' heaviest import, loaded before the first view)

    reader.join()
    print(_report(out, started_at, time.perf_counter() - started), file=sys.stderr, flush=True)
    sys.argv = ["streamlit", "run", *argv]
    try:
        streamlit_cli.main(prog_name="streamlit")
    finally:
        # Before the interpreter joins the snapshot thread at exit: a job it waits on must end now.
        stop_all()


if __name__ == "__main__":
    main(sys.argv[1:])
