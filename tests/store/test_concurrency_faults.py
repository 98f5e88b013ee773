"""Two `evalkit judge` jobs on one store and the same items, on SQLite and on PostgreSQL: both finish,
every judgment is stored once, no "database is locked". A PostgreSQL server stopped mid-judging ends
the job with one line; the re-run completes with nothing lost, and no answered request is asked again
beyond those that were in flight (counted at the scripted server). Two processes labelling the same
items of an annotation batch never give an item more than its --per-item labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from evalkit.store import Store
from evalkit.store import schema as t
from tests.fixtures import postgres
from tests.fixtures.fake_openai_server import FakeOpenAIServer
from tests.label_race import make_batch, race

CONCURRENCY = 4


def write_outputs(folder: Path, prompts: int) -> tuple[Path, Path]:
    model, baseline = folder / "model.json", folder / "baseline.json"
    model.write_text(
        json.dumps([{"instruction": f"Question {i}?", "output": f"Model answer {i}.", "generator": "m"} for i in range(prompts)])
    )
    baseline.write_text(
        json.dumps(
            [{"instruction": f"Question {i}?", "output": f"Baseline answer {i}.", "generator": "b"} for i in range(prompts)]
        )
    )
    return model, baseline


def judge_job(db: str, server: FakeOpenAIServer, model: Path, baseline: Path) -> subprocess.Popen[str]:
    argv = [
        sys.executable,
        "-m",
        "evalkit",
        "judge",
        "--judge",
        "pairwise",
        "--outputs",
        str(model),
        "--baseline",
        str(baseline),
        "--judge-base-url",
        server.base_url,
        "--judge-model",
        "fake-judge",
        "--concurrency",
        str(CONCURRENCY),
        "--db",
        db,
        "--json",
    ]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def stored_judgments(db: str) -> tuple[int, int]:
    """(judgment rows, distinct cache keys)."""
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(t.judgments)).scalar_one()
            keys = conn.execute(select(func.count(t.judgments.c.cache_key.distinct()))).scalar_one()
    finally:
        engine.dispose()
    return int(rows), int(keys)


def asked(server: FakeOpenAIServer) -> Counter[str]:
    """How often each distinct request (its messages) reached the server."""
    return Counter(json.dumps(body["messages"], sort_keys=True) for body in list(server.requests))


def two_jobs_at_once(db: str, folder: Path, prompts: int) -> None:
    model, baseline = write_outputs(folder, prompts)
    Store(db).engine.dispose()
    with FakeOpenAIServer(latency=0.02) as server:
        jobs = [judge_job(db, server, model, baseline) for _ in range(2)]
        results = [job.communicate(timeout=240) for job in jobs]
    for job, (out, err) in zip(jobs, results):
        assert job.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        assert json.loads(out)["ties"] + json.loads(out)["wins"] + json.loads(out)["losses"] == prompts
    assert stored_judgments(db) == (2 * prompts, 2 * prompts)  # both orders of each pair, each stored once


@pytest.mark.slow
def test_two_judge_jobs_share_a_sqlite_store(tmp_path: Path) -> None:
    two_jobs_at_once(f"sqlite:///{tmp_path / 'evalkit.db'}", tmp_path, prompts=30)


needs_postgres = pytest.mark.skipif(postgres.available() is not None, reason=str(postgres.available()))


@pytest.mark.slow
@needs_postgres
def test_two_judge_jobs_share_a_postgres_store(tmp_path: Path) -> None:
    with postgres.postgres_server() as url:
        two_jobs_at_once(url, tmp_path, prompts=30)


@pytest.mark.slow
@needs_postgres
def test_postgres_stopped_mid_judging_then_the_rerun_completes(tmp_path: Path) -> None:
    prompts = 40
    model, baseline = write_outputs(tmp_path, prompts)
    with postgres.postgres_cluster() as cluster, FakeOpenAIServer(latency=0.15) as server:
        Store(cluster.url).engine.dispose()
        job = judge_job(cluster.url, server, model, baseline)
        deadline = time.monotonic() + 120
        while stored_judgments(cluster.url)[0] < 8:
            assert job.poll() is None and time.monotonic() < deadline, job.communicate()[1]
            time.sleep(0.1)
        cluster.stop()
        _, err = job.communicate(timeout=120)
        assert job.returncode == 1, err
        assert len(err.strip().splitlines()) == 1 and "database failed mid-job" in err and "Traceback" not in err
        first_run = asked(server)

        cluster.start()
        stored_before = stored_judgments(cluster.url)[0]
        rerun = judge_job(cluster.url, server, model, baseline)
        out, err = rerun.communicate(timeout=240)
        assert rerun.returncode == 0, err
        assert stored_judgments(cluster.url) == (2 * prompts, 2 * prompts)  # nothing lost
        both_runs = asked(server)
    assert len(both_runs) == 2 * prompts
    repeated = sum(count - 1 for count in both_runs.values())
    assert repeated == sum(first_run.values()) - stored_before  # only answers the stopped job could not store
    assert repeated <= 2 * CONCURRENCY  # those in flight, and the batch being written, when the server stopped
    assert json.loads(out)["cached"] == stored_before


def labels_per_item(db: str) -> Counter[int]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return Counter(int(item) for item in conn.execute(select(t.human_labels.c.item_id)).scalars())
    finally:
        engine.dispose()


def check_per_item_cap_under_racing_annotators(db: str, items: int = 300) -> None:
    """Two processes label the same items of a --per-item 1 batch, both at the same moment per item
    (a count followed by an insert let both in: most items got two labels, on SQLite and PostgreSQL
    alike). Each item ends with exactly one label."""
    batch = make_batch(db, items, per_item=1)
    stored = race(db, batch, workers=2)
    per_item = labels_per_item(db)
    assert max(per_item.values()) == 1 and len(per_item) == items
    assert sum(stored) == items


def test_per_item_cap_holds_when_two_processes_label_at_once_on_sqlite(tmp_path: Path) -> None:
    check_per_item_cap_under_racing_annotators(f"sqlite:///{tmp_path / 'evalkit.db'}")


@pytest.mark.slow
@needs_postgres
def test_per_item_cap_holds_when_two_processes_label_at_once_on_postgres() -> None:
    with postgres.postgres_server() as url:
        check_per_item_cap_under_racing_annotators(url)
