"""The store on PostgreSQL: the same schema and queries as on SQLite (no SQLite-only SQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from evalkit.core.records import Decision, DecodingParams, GenerationResult, ModelInfo, Prompt, PromptSet
from evalkit.data.alpaca import import_model_outputs
from evalkit.data.references import import_references
from evalkit.store import Store
from tests.fixtures import postgres
from tests.store.test_label_exchange import check_all_or_nothing
from tests.v1_store import check_v1_store_is_read_then_upgraded, check_v2_store_is_read_then_upgraded
from tests.v3_store import check_v3_store_is_read_then_upgraded

pytestmark = pytest.mark.skipif(postgres.available() is not None, reason=str(postgres.available()))


@pytest.fixture(scope="module")
def pg_url() -> str:
    with postgres.postgres_server() as url:
        yield url


def test_store_round_trips_and_skips_finished_work_on_postgres(pg_url: str, tmp_path: Path) -> None:
    store = Store(pg_url)
    prompts = tuple(Prompt(str(i), ({"role": "user", "content": f"q{i}"},), reference=f"r{i}") for i in range(3))
    prompt_set = PromptSet("pg", prompts, "test")
    store.save_prompt_set(prompt_set)
    store.save_prompt_set(prompt_set)  # same content: a no-op
    assert [p.reference for p in Store(pg_url).load_prompt_set("pg").prompts] == ["r0", "r1", "r2"]
    model_id = store.register_model(ModelInfo(name="m", fingerprint="a" * 64, epoch=5, run="/runs/x"))
    results = [GenerationResult(p.hash, 0, f"answer {p.id}", 3, 4, "stop", 0.1) for p in prompts]
    assert store.add_generations(model_id, DecodingParams(greedy=True), "test", results) == 3
    assert store.add_generations(model_id, DecodingParams(greedy=True), "test", results) == 0
    assert len(store.stored_generation_keys(model_id, DecodingParams(greedy=True))) == 3
    baseline_id = import_references(store, prompt_set)
    assert len(store.generations(baseline_id)) == 3
    store.add_decision(Decision("/runs/x", "epoch-5", 5, "winrate-likert-earliest", {"why": [1, None]}), model_id)
    assert store.decisions("/runs/x").iloc[0]["evidence"] == {"why": [1, None]}


def test_reference_judge_and_tables_on_postgres(pg_url: str, tmp_path: Path) -> None:
    import json

    from evalkit.data import load_prompt_set
    from evalkit.judges.registry import make_judge
    from evalkit.judges.runner import as_generation_set, judge_pairs, judge_single
    from evalkit.results.jobs import job_figures
    from evalkit.results.tables import likert_table, pairwise_table

    rows = [
        {"instruction": f"Name a colour, number {i}.", "output": "Blue is a colour." if i % 2 else "No idea."} for i in range(4)
    ]
    (tmp_path / "m.json").write_text(json.dumps([{**r, "generator": "model"} for r in rows]))
    (tmp_path / "b.json").write_text(json.dumps([{**r, "output": "Hmm.", "generator": "base"} for r in rows]))
    (tmp_path / "set.jsonl").write_text(
        "\n".join(json.dumps({"instruction": r["instruction"], "reference": "Blue is a colour."}) for r in rows)
    )
    store = Store(pg_url)
    store.save_prompt_set(load_prompt_set(str(tmp_path / "set.jsonl")))
    model_id, _ = import_model_outputs(store, tmp_path / "m.json")
    baseline_id, _ = import_model_outputs(store, tmp_path / "b.json")
    judge = make_judge("reference")
    summary = judge_pairs(store, judge, model_id, baseline_id)
    figures = job_figures(store, summary, as_generation_set(store, model_id), as_generation_set(store, baseline_id))
    assert (figures["wins"], figures["ties"], figures["losses"]) == (2, 2, 0)
    assert judge_pairs(store, judge, model_id, baseline_id)["stored"] == 0  # cached
    judge_single(store, judge, model_id)
    assert set(pairwise_table(store, "reference")["outcome"]) == {"win", "tie"}
    assert len(likert_table(store, "reference_likert")) == 4


def _fresh_database(pg_url: str, name: str) -> str:
    """A new empty database on the module's server, for a test that needs a store of its own."""
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return f"{pg_url.rsplit('/', 1)[0]}/{name}"


def test_a_version_1_store_is_read_then_upgraded_on_postgres(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    check_v1_store_is_read_then_upgraded(_fresh_database(pg_url, "v1_store"), capsys)


def test_a_version_2_store_keeps_every_label_link_and_invitation_when_upgraded_on_postgres(pg_url: str) -> None:
    check_v2_store_is_read_then_upgraded(_fresh_database(pg_url, "v2_store"))


def test_a_version_3_store_gains_draw_weights_when_upgraded_on_postgres(pg_url: str) -> None:
    check_v3_store_is_read_then_upgraded(_fresh_database(pg_url, "v3_store"))


def test_import_is_all_or_nothing_on_postgres(pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_all_or_nothing(_fresh_database(pg_url, "all_or_nothing"), tmp_path, capsys)
