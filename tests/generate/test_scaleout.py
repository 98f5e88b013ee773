"""Generation fanned out on Ray: the plan (units, resources) checked directly, then real Ray tasks on a
local 2-CPU cluster with tiny checkpoints: the same rows as one process, a worker killed mid-task
retried without duplicates (SQLite: the driver writes; PostgreSQL: the tasks write), and `evalkit run
--workers 2` giving the same summary as without."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit.cli.main import main
from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationRequest, Prompt, PromptSet
from evalkit.generate.checkpoint import Checkpoint, find_checkpoints
from evalkit.generate.factory import BackendOptions
from evalkit.generate.plan import generate_checkpoints
from evalkit.generate.scaleout import CheckpointResult, check_scaleout, generate_on_ray, plan_units, task_options, task_resources
from evalkit.generate.vllm_options import VLLMOptions
from evalkit.store import Store
from tests.fixtures import postgres
from tests.ray_support import KILL_ONCE

REPO = Path(__file__).resolve().parents[2]


def requests(count: int) -> list[GenerationRequest]:
    return [GenerationRequest(Prompt(id=f"p{i}", messages=({"role": "user", "content": f"q{i}"},)), 0) for i in range(count)]


def test_one_unit_per_checkpoint_when_there_are_enough_checkpoints() -> None:
    work = [(Checkpoint(Path(f"e{i}"), f"e{i}"), i, requests(5)) for i in range(3)]
    units = plan_units(work, workers=2)
    assert [(u.model_id, len(u.requests)) for u in units] == [(0, 5), (1, 5), (2, 5)]


def test_prompt_shards_when_fewer_checkpoints_than_workers() -> None:
    wanted = requests(7)
    units = plan_units([(Checkpoint(Path("a"), "a"), 1, wanted), (Checkpoint(Path("b"), "b"), 2, [])], workers=5)
    # One checkpoint has work left, five workers: five interleaved shards that cover every request once.
    assert [[r.prompt.id for r in u.requests] for u in units] == [["p0", "p5"], ["p1", "p6"], ["p2"], ["p3"], ["p4"]]
    assert plan_units([(Checkpoint(Path("a"), "a"), 1, requests(2))], workers=4)[1].requests == tuple(requests(2)[1:])
    assert plan_units([(Checkpoint(Path("a"), "a"), 1, [])], workers=4) == []


def test_task_resources_follow_the_engine_size() -> None:
    gpus, cpus = {"GPU": 8.0, "CPU": 64.0}, {"CPU": 8.0}
    vllm = VLLMOptions(tensor_parallel_size=2, pipeline_parallel_size=2)
    assert task_resources(BackendOptions(backend="vllm-server", vllm=vllm), gpus, 2) == {"num_cpus": 1, "num_gpus": 4}
    assert task_resources(BackendOptions(backend="transformers"), gpus, 2) == {"num_cpus": 1, "num_gpus": 1}
    assert task_resources(BackendOptions(backend="vllm"), gpus, 2) == {"num_cpus": 1, "num_gpus": 1}
    in_process = task_resources(BackendOptions(backend="vllm", vllm=vllm), gpus, 2)
    assert in_process == {"num_cpus": 0, "num_gpus": 0, "placement_bundles": [{"GPU": 1, "CPU": 1}] * 4}
    # Its engine must then reach the placement group's GPUs through Ray's executor.
    assert dict(task_options(BackendOptions(backend="vllm", vllm=vllm), in_process).vllm.extra) == {
        "distributed_executor_backend": "ray"
    }
    assert task_options(BackendOptions(backend="vllm-server", vllm=vllm), {"num_gpus": 4}).vllm.extra == ()
    assert task_resources(BackendOptions(), cpus, 2) == {"num_cpus": 4}
    assert task_resources(BackendOptions(), cpus, 16) == {"num_cpus": 1}


@pytest.mark.parametrize(
    ("workers", "address", "backend", "message"),
    [
        ("0", None, "transformers", "--workers must be at least 1, got 0"),
        ("two", None, "transformers", "--workers must be a whole number, got 'two'"),
        (None, "10.0.0.1:6379", "transformers", "--ray-address needs --workers N"),
        ("2", None, "openai", "--workers fans out local checkpoints; a served model scales with --concurrency instead"),
    ],
)
def test_bad_scaleout_flags(workers: str | None, address: str | None, backend: str, message: str) -> None:
    with pytest.raises(EvalkitError) as raised:
        check_scaleout(workers, address, backend)
    assert str(raised.value) == message


def test_an_unreachable_ray_address_is_one_line_in_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.generate.server import free_port

    pytest.importorskip("ray", reason="ray is not installed (pip install 'evalkit[ray]')")
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    db = tmp_path / "x.db"
    assert (
        main(["generate", "--checkpoint", str(tmp_path), "--workers", "2", "--ray-address", address, "--db", f"sqlite:///{db}"])
        == 2
    )
    assert capsys.readouterr().err.strip().splitlines() == [
        f"evalkit: error: cannot reach the Ray cluster at {address}; is `ray start --head` running there and is --ray-address right?"
    ]
    assert not db.exists()


@pytest.mark.parametrize("command", ["generate", "run"])
def test_bad_workers_flag_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    db = tmp_path / "x.db"
    assert main([command, "--checkpoint", str(tmp_path), "--workers", "-1", "--db", f"sqlite:///{db}"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["evalkit: error: --workers must be at least 1, got -1"]
    if command == "generate":  # `run` opens its store before reading its flags (evalkit/cli/commands/run.py)
        assert not db.exists()


# ---- real Ray tasks on a local cluster -----------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local cluster of 2 CPUs for the module (Ray starts in seconds, not milliseconds); its workers
    load the kill-once hook and find the tests package through PYTHONPATH."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'evalkit[ray]')")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {"PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"},
            "worker_process_setup_hook": "tests.ray_support.kill_once_hook",
        },
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def training_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny epochs (different weights) and the base model they started from."""
    from evalkit.models.tiny import DEFAULT_CORPUS, build_tiny_model

    root = tmp_path_factory.mktemp("run")
    corpus = DEFAULT_CORPUS * 20
    build_tiny_model(root / "base", corpus, hidden_size=32, seed=0)
    for epoch in (1, 2, 3):
        build_tiny_model(root / "ckpt" / f"epoch-{epoch}", corpus, hidden_size=32, seed=epoch)
    (root / "ckpt" / "train_run.json").write_text(json.dumps({"base_model": str(root / "base")}))
    return root / "ckpt"


@pytest.fixture(scope="module")
def prompts() -> PromptSet:
    items = tuple(
        Prompt(
            id=f"p{i}",
            messages=({"role": "user", "content": f"Question {i}: " + "sea " * (1 + i % 3)},),
            reference=f"The sea answer {i} is blue water.",
        )
        for i in range(4)
    )
    return PromptSet(name="ray-prompts", prompts=items, source="test")


def stored_rows(store: Store) -> list[tuple]:
    frame = store.generations()
    columns = ["model_name", "prompt_hash", "sample", "decoding_hash", "backend", "text", "completion_tokens", "finish_reason"]
    return sorted(tuple(row) for row in frame[columns].itertuples(index=False))


@pytest.mark.slow
def test_ray_fan_out_stores_the_same_rows_as_one_process(
    ray_cluster: None, training_run: Path, prompts: PromptSet, tmp_path: Path
) -> None:
    decoding = DecodingParams(max_new_tokens=6, seed=3)  # sampled: non-empty text from random weights
    single = Store(f"sqlite:///{tmp_path / 'single.db'}")
    generate_checkpoints(single, str(training_run), None, prompts, decoding, BackendOptions(), progress=False)
    done: list[CheckpointResult] = []
    fanned = f"sqlite:///{tmp_path / 'ray.db'}"
    results = generate_on_ray(
        fanned,
        find_checkpoints(training_run),
        prompts,
        decoding,
        BackendOptions(workers=2),
        progress=False,
        on_checkpoint_done=done.append,
    )
    assert stored_rows(Store(fanned)) == stored_rows(single) and len(stored_rows(single)) == 12
    assert any(text for *_, text, _, _ in stored_rows(single))
    assert sorted(r.checkpoint.name for r in done) == ["ckpt/epoch-1", "ckpt/epoch-2", "ckpt/epoch-3"]
    assert [(r.error, r.summary.generated, r.summary.skipped) for r in results] == [(None, 4, 0)] * 3
    again = generate_on_ray(fanned, find_checkpoints(training_run), prompts, decoding, BackendOptions(workers=2), progress=False)
    assert [(r.summary.generated, r.summary.skipped) for r in again] == [(0, 4)] * 3  # finished work: no task at all


def kill_test_checkpoint(training_run: Path, tmp_path: Path) -> Path:
    model = tmp_path / "model"
    shutil.copytree(training_run / "epoch-1", model)
    (model / KILL_ONCE).write_text("")
    return model


def check_killed_and_complete(
    model: Path, store: Store, prompts: PromptSet, results: list[CheckpointResult], tmp_path: Path
) -> None:
    assert not (model / KILL_ONCE).exists()  # a worker did die mid-task ...
    assert results[0].error is None  # ... and Ray's retry finished the work
    rows = stored_rows(store)
    assert len(rows) == len({row[:4] for row in rows}) == len(prompts.prompts)
    single = Store(f"sqlite:///{tmp_path / 'single.db'}")
    generate_checkpoints(
        single,
        str(model),
        None,
        prompts,
        DecodingParams(greedy=True, max_new_tokens=6),
        BackendOptions(batch_size=1),
        progress=False,
    )
    assert rows == stored_rows(single)


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_the_driver_stores_no_duplicate(
    ray_cluster: None, training_run: Path, prompts: PromptSet, tmp_path: Path
) -> None:
    model = kill_test_checkpoint(training_run, tmp_path)
    url = f"sqlite:///{tmp_path / 'ray.db'}"
    # One checkpoint, two workers: two prompt shards, one answer per batch; a shard's worker dies after its first.
    results = generate_on_ray(
        url,
        find_checkpoints(model),
        prompts,
        DecodingParams(greedy=True, max_new_tokens=6),
        BackendOptions(batch_size=1, workers=2),
        progress=False,
    )
    check_killed_and_complete(model, Store(url), prompts, results, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(postgres.available() is not None, reason=str(postgres.available()))
def test_tasks_write_a_shared_postgres_store_and_a_retry_stores_no_duplicate(
    ray_cluster: None, training_run: Path, prompts: PromptSet, tmp_path: Path
) -> None:
    model = kill_test_checkpoint(training_run, tmp_path)
    with postgres.postgres_server() as url:
        results = generate_on_ray(
            url,
            find_checkpoints(model),
            prompts,
            DecodingParams(greedy=True, max_new_tokens=6),
            BackendOptions(batch_size=1, workers=2),
            progress=False,
        )
        check_killed_and_complete(model, Store(url), prompts, results, tmp_path)


@pytest.mark.slow
def test_run_with_workers_gives_the_same_summary(
    ray_cluster: None, training_run: Path, prompts: PromptSet, tmp_path: Path
) -> None:
    from evalkit.jobs.evaluation import RunConfig, run_evaluation, summary_table

    path = tmp_path / "prompts.jsonl"
    path.write_text(
        "".join(json.dumps({"id": p.id, "prompt": p.instruction, "reference": p.reference}) + "\n" for p in prompts.prompts)
    )
    tables = []
    for name, workers in (("single", None), ("ray", 2)):
        store = Store(f"sqlite:///{tmp_path / name}.db")
        config = RunConfig(
            prompts=str(path),
            epochs=[1, 2, 3],
            decoding=DecodingParams(max_new_tokens=6),
            backend=BackendOptions(workers=workers),
            progress=False,
        )
        tables.append(summary_table(store, run_evaluation(store, str(training_run), config)).to_json(orient="records"))
    assert tables[0] == tables[1] and len(json.loads(tables[0])) == 3
