"""Generation fanned out as Ray tasks: one task per checkpoint, prompt shards when there are fewer
checkpoints than workers (the data-parallel pattern of FastChat, lighteval and lm-eval's vLLM path).

Each task streams its answers back batch by batch (a Ray generator task). Where they are written
depends on the store: a server database (PostgreSQL) is shared, so each task writes its own batches
and, retried, skips what it already stored; a SQLite file belongs to the driver's machine, so the
driver writes each batch as it lands. Either way inserts ignore rows already present (generations
have a unique key), so a task that Ray retries after its worker died never stores a row twice.
"""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tqdm import tqdm

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationRequest, GenerationResult, PromptSet
from evalkit.generate.checkpoint import Checkpoint
from evalkit.generate.factory import BackendOptions, effective_decoding, make_generator
from evalkit.generate.runner import GenerateSummary, register_checkpoint
from evalkit.store import Store

MAX_RETRIES = 3  # a worker that dies (killed, preempted node) gets its task re-run this many times
NOT_INSTALLED = "ray is not installed: pip install 'evalkit[ray]' (or drop --workers)"


@dataclass(frozen=True)
class WorkUnit:
    """What one Ray task generates: some (prompt, sample) pairs of one checkpoint."""

    checkpoint: Checkpoint
    model_id: int
    requests: tuple[GenerationRequest, ...]


@dataclass(frozen=True)
class Landed:
    """One batch a task finished: its rows when the driver writes them, else how many the task wrote."""

    results: list[GenerationResult] | None
    stored: int
    tokens: int


@dataclass
class CheckpointResult:
    checkpoint: Checkpoint
    summary: GenerateSummary | None = None
    error: str | None = None
    units_left: int = 0
    generated: int = 0
    tokens: int = 0


def check_scaleout(workers: str | None, ray_address: str | None, backend: str) -> int | None:
    """--workers/--ray-address as typed, checked before any work; None: generate in this process."""
    if workers is None:
        if ray_address is not None:
            raise EvalkitError("--ray-address needs --workers N")
        return None
    try:
        count = int(workers)
    except ValueError:
        raise EvalkitError(f"--workers must be a whole number, got {workers!r}") from None
    if count < 1:
        raise EvalkitError(f"--workers must be at least 1, got {count}")
    if backend == "openai":
        raise EvalkitError("--workers fans out local checkpoints; a served model scales with --concurrency instead")
    if importlib.util.find_spec("ray") is None:
        raise EvalkitError(NOT_INSTALLED)
    if ray_address:
        check_reachable(ray_address)
    return count


def plan_units(work: Sequence[tuple[Checkpoint, int, list[GenerationRequest]]], workers: int) -> list[WorkUnit]:
    """One unit per checkpoint with work left; with fewer such checkpoints than workers, each is cut
    into workers // checkpoints shards, interleaved so long and short prompts spread evenly."""
    pending = [(checkpoint, model_id, requests) for checkpoint, model_id, requests in work if requests]
    shards = max(1, workers // len(pending)) if pending else 1
    units: list[WorkUnit] = []
    for checkpoint, model_id, requests in pending:
        count = min(shards, len(requests))
        units.extend(WorkUnit(checkpoint, model_id, tuple(requests[i::count])) for i in range(count))
    return units


def task_resources(options: BackendOptions, cluster: dict[str, float], workers: int) -> dict[str, Any]:
    """What one task asks Ray for. On GPUs: the GPUs its engine spans (tensor x pipeline parallel for
    vLLM, one for transformers). An in-process vLLM engine over several GPUs instead gets a placement
    group of that many GPU bundles, which its Ray executor's workers join (vLLM's recipe for
    multi-GPU engines under Ray). On CPUs: an equal share of the cluster's cores."""
    vllm_gpus = options.vllm.gpus if options.backend in ("vllm", "vllm-server") else 1
    if cluster.get("GPU", 0) >= 1:
        if options.backend == "vllm" and vllm_gpus > 1:
            return {"num_cpus": 0, "num_gpus": 0, "placement_bundles": [{"GPU": 1, "CPU": 1}] * vllm_gpus}
        return {"num_cpus": 1, "num_gpus": vllm_gpus}
    return {"num_cpus": max(1, int(cluster.get("CPU", 1)) // workers)}


def task_options(options: BackendOptions, resources: dict[str, Any]) -> BackendOptions:
    """The engine a placement-group task builds must use Ray's executor to reach the group's GPUs."""
    extra = dict(options.vllm.extra)
    if "placement_bundles" not in resources or "distributed_executor_backend" in extra:
        return options
    return replace(options, vllm=replace(options.vllm, extra=(*options.vllm.extra, ("distributed_executor_backend", "ray"))))


def run_unit(unit: WorkUnit, decoding: DecodingParams, options: BackendOptions, store_url: str | None) -> Iterator[Landed]:
    """The Ray task (a generator): yields a Landed per finished batch. With a shared store it writes
    the batch itself and, when Ray re-runs it after a crash, first drops what is already stored."""
    store = Store(store_url) if store_url else None
    requests = list(unit.requests)
    if store is not None:
        stored = store.stored_generation_keys(unit.model_id, decoding)
        requests = [r for r in requests if (r.prompt.hash, r.sample) not in stored]
    if not requests:
        return
    generator = make_generator(unit.checkpoint, options)
    try:
        for batch in generator.generate(requests, decoding):
            tokens = sum(r.completion_tokens or 0 for r in batch)
            if store is None:
                yield Landed(batch, 0, tokens)
            else:
                yield Landed(None, store.add_generations(unit.model_id, decoding, generator.backend, batch), tokens)
    finally:
        generator.close()


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Ray retries an unreachable head for minutes before failing; a plain TCP connect says so in seconds.
    Only HOST:PORT and ray://HOST:PORT are probed (`auto` and `local` are Ray's own words)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError:
        raise EvalkitError(
            f"cannot reach the Ray cluster at {address}; is `ray start --head` running there and is --ray-address right?"
        ) from None


def _start_ray(address: str | None) -> bool:
    """Connect to the cluster (or start a local one); True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"Ray cluster at {address}" if address else "a local Ray instance"
        raise EvalkitError(
            f"cannot start or reach {where}: {str(exc).splitlines()[0][:200]}; "
            "check --ray-address (start a cluster with `ray start --head`)"
        ) from None
    return True


def generate_on_ray(
    store_url: str,
    checkpoints: Sequence[Checkpoint],
    prompt_set: PromptSet,
    decoding: DecodingParams,
    options: BackendOptions,
    *,
    samples: int = 1,
    progress: bool = True,
    on_checkpoint_done: Callable[[CheckpointResult], None] | None = None,
) -> list[CheckpointResult]:
    """Generate what the store lacks for every checkpoint on `options.workers` Ray tasks at a time.

    A broken checkpoint, or one whose task fails, gets an error in its result and the others go on.
    `on_checkpoint_done` is called in the driver as each checkpoint's last task finishes, so a caller
    can judge that checkpoint while the others still generate."""
    if options.workers is None:
        raise EvalkitError("generate_on_ray needs BackendOptions.workers")
    decoding = effective_decoding(options, decoding)  # what the tasks' engines apply (idempotent): the stored key
    store = Store(store_url)
    store.save_prompt_set(prompt_set)
    unique = {p.hash: p for p in prompt_set.prompts}
    wanted = [GenerationRequest(prompt, sample) for prompt in unique.values() for sample in range(samples)]
    results = [CheckpointResult(checkpoint) for checkpoint in checkpoints]
    work: list[tuple[Checkpoint, int, list[GenerationRequest]]] = []
    for result in results:
        try:
            model_id = register_checkpoint(store, result.checkpoint)
        except EvalkitError as exc:  # one broken checkpoint must not sink the others
            result.error = str(exc)
            continue
        stored = store.stored_generation_keys(model_id, decoding)
        result.summary = GenerateSummary(result.checkpoint.name, model_id, len(wanted), 0, len(wanted), 0, decoding.hash)
        work.append((result.checkpoint, model_id, [r for r in wanted if (r.prompt.hash, r.sample) not in stored]))
    units = plan_units(work, options.workers)
    by_model = {r.summary.model_id: r for r in results if r.summary is not None}
    for unit in units:
        by_model[unit.model_id].units_left += 1
    for result in results:
        if result.units_left == 0 and on_checkpoint_done is not None:
            on_checkpoint_done(result)
    if units:
        _run_units(store, units, by_model, decoding, options, progress, on_checkpoint_done)
    return results


def _run_units(
    store: Store,
    units: list[WorkUnit],
    by_model: dict[int, CheckpointResult],
    decoding: DecodingParams,
    options: BackendOptions,
    progress: bool,
    on_checkpoint_done: Callable[[CheckpointResult], None] | None,
) -> None:
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    started = _start_ray(options.ray_address)
    shared_url = None if store.dialect_name == "sqlite" else store.url
    remote = ray.remote(max_retries=MAX_RETRIES)(run_unit)
    resources = task_resources(options, ray.cluster_resources(), options.workers or 1)
    options = task_options(options, resources)
    queue = list(units)
    in_flight: dict[Any, tuple[WorkUnit, Any]] = {}
    bar = tqdm(
        total=sum(len(u.requests) for u in units), desc="generate (ray)", unit="item", disable=not progress, dynamic_ncols=True
    )

    def finish(unit: WorkUnit, group: Any, error: str | None = None) -> None:
        if group is not None:
            remove_placement_group(group)
        result = by_model[unit.model_id]
        result.units_left -= 1
        result.error = result.error or error
        if result.units_left == 0:
            if result.summary is not None:
                result.summary = replace(
                    result.summary,
                    generated=result.generated,
                    skipped=result.summary.requested - result.generated,
                    completion_tokens=result.tokens,
                )
            if on_checkpoint_done is not None:
                on_checkpoint_done(result)

    try:
        while queue or in_flight:
            while queue and len(in_flight) < (options.workers or 1):
                unit = queue.pop(0)
                ask, group = {k: v for k, v in resources.items() if k != "placement_bundles"}, None
                if "placement_bundles" in resources:
                    group = placement_group(resources["placement_bundles"], strategy="STRICT_PACK")
                    ask["scheduling_strategy"] = PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)
                in_flight[remote.options(**ask).remote(unit, decoding, options, shared_url)] = (unit, group)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            stream = ready[0]
            unit, group = in_flight[stream]
            try:
                landed: Landed = ray.get(next(stream))  # type: ignore[arg-type,assignment]  # a generator task's ref yields refs
            except StopIteration:
                del in_flight[stream]
                finish(unit, group)
                continue
            except ray.exceptions.RayError as exc:
                del in_flight[stream]
                cause = getattr(exc, "cause", None)
                finish(
                    unit, group, str(cause) if isinstance(cause, EvalkitError) else f"Ray task failed: {exc.__class__.__name__}"
                )
                continue
            stored = landed.stored
            if landed.results is not None:
                stored = store.add_generations(unit.model_id, decoding, options.backend, landed.results)
            by_model[unit.model_id].generated += stored
            by_model[unit.model_id].tokens += landed.tokens
            bar.update(len(landed.results) if landed.results is not None else landed.stored)
    finally:
        bar.close()
        if started:
            ray.shutdown()
