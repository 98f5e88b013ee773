"""Mini LIMA's self-instruct expansion of seed tasks (its prompts 1-3), through any OpenAI-compatible model.

1. new tasks: shown a few seed {name, instruction} pairs, the model writes new ones (Mini LIMA doubled
   its 174 tasks this way);
2. new instances: each seed task, with its instance, gets more instances;
3. one-shot instances: each new task gets instances, shown one seed task with its instance as the example.

A seed row is a dialog; its task is its `task` (or `name`) key, its instruction the `instruction` key or
else the first user turn, its instance the `input` key (default empty) and the last assistant turn.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.llm import Call, CallReport, LLMSettings, run_calls
from evalkit.datarecipes.parsing import ParsedLines, json_lines
from evalkit.datarecipes.rows import Row, single_turn
from evalkit.judges.templates import builtin_template
from evalkit.store import Store

TASKS_PER_REQUEST = 5


@dataclass(frozen=True)
class Task:
    name: str
    instruction: str
    instances: tuple[tuple[str, str], ...]  # (input, output)

    def as_line(self, with_instances: bool = True) -> str:
        value: dict[str, Any] = {"name": self.name, "instruction": self.instruction}
        if with_instances:
            value["instances"] = [{"input": i, "output": o} for i, o in self.instances]
        return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class ExpandPlan:
    new_tasks: int  # how many new tasks to ask for (Mini LIMA: as many as there are seeds)
    instances_per_seed: int = 2  # its prompt 2: "two more instances"
    instances_per_new_task: int = 5  # its prompt 3: "five instances"
    examples_per_request: int = 3
    seed: int = 0


def seed_tasks(rows: list[Row]) -> list[Task]:
    """Rows grouped into tasks by (name, instruction), in first-seen order."""
    grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for index, row in enumerate(rows):
        name = str(row.extra.get("task") or row.extra.get("name") or f"task-{index + 1}")
        if isinstance(row.extra.get("instruction"), str):
            instruction, given = row.extra["instruction"], str(row.extra.get("input") or "")
        else:
            instruction, given = row.instruction, ""
        grouped.setdefault((name, instruction), []).append((given, row.output))
    return [Task(name, instruction, tuple(instances)) for (name, instruction), instances in grouped.items()]


def task_row(task: Task, given: str, output: str, origin: str) -> Row:
    user = f"{task.instruction}\n\n{given}" if given else task.instruction
    return single_turn(user, output, task=task.name, instruction=task.instruction, input=given, origin=origin)


def _parse_tasks(text: str, _call: Call) -> ParsedLines | None:
    return json_lines(text, ("name", "instruction"))


def _parse_instances(text: str, _call: Call) -> ParsedLines | None:
    return json_lines(text, ("output",), optional=("input",))


def _new_task_calls(tasks: list[Task], plan: ExpandPlan) -> list[Call]:
    template = builtin_template("data_new_tasks.txt").require(["examples", "count"])
    calls = []
    for index in range(math.ceil(plan.new_tasks / TASKS_PER_REQUEST)):
        shown = random.Random(plan.seed * 1_000_003 + index).sample(tasks, min(plan.examples_per_request, len(tasks)))
        examples = "\n".join(task.as_line(with_instances=False) for task in shown)
        calls.append(Call("new_tasks", template, {"examples": examples, "count": str(TASKS_PER_REQUEST)}, variant=index))
    return calls


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def expand(store: Store, rows: list[Row], plan: ExpandPlan, settings: LLMSettings) -> tuple[list[Row], dict[str, Any]]:
    """Seed rows, then instances of seed tasks, then instances of new tasks; and what each stage did."""
    tasks = seed_tasks(rows)
    if plan.new_tasks < 0 or plan.instances_per_seed < 0 or plan.instances_per_new_task < 0:
        raise EvalkitError("expand counts (--new-tasks, --instances, --oneshot-instances) must not be negative")
    report: dict[str, Any] = {"seed_rows": len(rows), "seed_tasks": len(tasks)}

    outcomes, calls_report = run_calls(store, _new_task_calls(tasks, plan), _parse_tasks, settings, "new tasks")
    known = {_normal(task.instruction) for task in tasks}
    new_tasks: list[Task] = []
    for outcome in outcomes:
        for item in outcome.parsed.items if outcome.parsed else ():
            if len(new_tasks) < plan.new_tasks and _normal(item["instruction"]) not in known:
                known.add(_normal(item["instruction"]))
                new_tasks.append(Task(item["name"], item["instruction"], ()))
    report["new_tasks"] = _stage(calls_report, outcomes, produced=len(new_tasks))

    instances = builtin_template("data_new_instances.txt").require(["task", "count"])
    oneshot = builtin_template("data_oneshot_instances.txt").require(["example", "task", "count"])
    calls = [
        Call("new_instances", instances, {"task": task.as_line(), "count": str(plan.instances_per_seed)})
        for task in tasks
        if plan.instances_per_seed
    ]
    rng = random.Random(plan.seed)
    calls += [
        Call(
            "oneshot_instances",
            oneshot,
            {"example": _one_instance(rng.choice(tasks)), "task": task.as_line(False), "count": str(plan.instances_per_new_task)},
        )
        for task in new_tasks
        if plan.instances_per_new_task
    ]
    owners = [task for task in tasks if plan.instances_per_seed] + [task for task in new_tasks if plan.instances_per_new_task]
    outcomes, calls_report = run_calls(store, calls, _parse_instances, settings, "instances")
    produced: list[Row] = []
    for task, outcome in zip(owners, outcomes):
        limit = plan.instances_per_seed if outcome.call.task == "new_instances" else plan.instances_per_new_task
        seen = {_normal(output) for _, output in task.instances}
        origin = "new_instance" if outcome.call.task == "new_instances" else "new_task"
        for item in (outcome.parsed.items if outcome.parsed else ())[:limit]:
            if _normal(item["output"]) not in seen:
                seen.add(_normal(item["output"]))
                produced.append(task_row(task, item.get("input", ""), item["output"], origin))
    report["instances"] = _stage(calls_report, outcomes, produced=len(produced))
    report["rows_out"] = len(rows) + len(produced)
    return [*rows, *produced], report


def _one_instance(task: Task) -> str:
    return Task(task.name, task.instruction, task.instances[:1]).as_line()


def _stage(calls: CallReport, outcomes: list[Any], produced: int) -> dict[str, Any]:
    dropped = sum(o.parsed.dropped for o in outcomes if o.parsed)
    return calls.as_dict() | {"dropped_lines": dropped, "produced": produced}
