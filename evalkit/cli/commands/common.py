"""Flags shared by several subcommands, so they are spelled and documented once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from evalkit.core.ranges import parse_range
from evalkit.jobs.local_judge import JudgeServerSettings, served_judge

# int or float: what `_number` parses and returns
NumberT = TypeVar("NumberT", int, float)


def add_db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=None, help="SQLAlchemy URL of the results store (env EVALKIT_DB; default sqlite:///evalkit.db)"
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def epoch_range(text: str) -> list[int]:
    try:
        epochs = parse_range(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an epoch range: {text!r} (use e.g. 5-10 or 5,7,9)") from None
    if min(epochs) < 0:
        raise argparse.ArgumentTypeError(f"epochs are 0 or more, got {text!r}")
    return epochs


# argparse `type=` checks: a value out of range is refused while the command line is read, before any
# work or write, with one line naming the flag (argparse adds the flag's name to the message).
def positive_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float, "a number")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def probability(text: str) -> float:
    """top_p: a share of the probability mass, in (0, 1]."""
    value = _number(text, float, "a number")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _number(text: str, kind: Callable[[str], NumberT], what: str) -> NumberT:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):  # NaN and infinities compare oddly
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def out_path(text: str) -> Path:
    """An `--out` file or folder: evalkit writes it, but the folder it goes in must exist. A typo in a
    parent (`/nonexistent/dir/o.json`) is refused while the command line is read, before any model loads,
    instead of a folder tree appearing silently."""
    path = Path(text)
    parent = path.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"folder {parent} {what}; create it first or choose another path")
    return path


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage of `evalkit run` is a screenful) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_judge_temperature_flag(parser: argparse._ActionsContainer) -> None:
    """One flag for `run`, `pick` and `judge`: it becomes part of the judge's spec (and cache keys)."""
    parser.add_argument(
        "--judge-temperature",
        type=non_negative_float,
        default=None,
        help="judge sampling temperature (default 0; 0.7 when several samples are asked for)",
    )


JUDGE_SERVER_CHOICES = ("auto", "vllm", "transformers")  # evalkit.judges.local.JUDGE_SERVERS


def port_number(text: str) -> int:
    value = _number(text, int, "a whole number")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (1-65535), got {value}")
    return value


def add_judge_call_flags(group: argparse._ActionsContainer, *, samples_help: str) -> None:
    """How a command that asks an LLM judge reaches and asks it (`judge`, `judge-quality`, `stats combined`): the endpoint or a
    served checkpoint, grades per item, temperature, reply length. One definition, so both refuse the same
    bad values while the command line is read."""
    group.add_argument(
        "--judge-base-url",
        default=None,
        help="OpenAI-compatible endpoint (env OPENAI_BASE_URL; default OpenAI); the key comes from OPENAI_API_KEY",
    )
    add_judge_checkpoint_flags(group)
    group.add_argument("--samples", type=positive_int, default=1, help=samples_help)
    group.add_argument(
        "--judge-temperature",
        "--temperature",
        dest="judge_temperature",
        type=non_negative_float,
        default=None,
        help="judge sampling temperature (default 0; 0.7 with --samples > 1)",
    )
    group.add_argument("--max-tokens", type=positive_int, default=None, help="reply length limit (default 512; likert 1024)")


def add_judge_budget_flags(group: argparse._ActionsContainer) -> None:
    """How many judge requests at once, for how long, and for how much (`judge`, `judge-quality`, `stats combined`)."""
    group.add_argument("--concurrency", type=positive_int, default=16, help="requests in flight (default 16)")
    group.add_argument("--timeout", type=positive_float, default=120.0, help="seconds per request (default 120)")
    group.add_argument("--max-cost", type=positive_float, default=None, help="USD: stop before this invocation would spend more")
    group.add_argument("--prices", default=None, help="YAML/JSON price table, USD per 1M tokens (env EVALKIT_PRICES)")


def add_judge_checkpoint_flags(parser: argparse._ActionsContainer) -> None:
    """A local judge (`judge`, `run`, `pick`, `judge-quality`, `demo`): a checkpoint served for the job."""
    parser.add_argument(
        "--judge-checkpoint",
        default=None,
        metavar="DIR",
        help="serve this checkpoint as the judge for the job's duration on a loopback port (a Hugging Face model "
        "directory, or smollm2 for the converted SmolLM2-135M-Instruct); stopped at the end. Costs nothing",
    )
    parser.add_argument(
        "--judge-server",
        choices=JUDGE_SERVER_CHOICES,
        default=None,
        help="what serves --judge-checkpoint: vllm (its OpenAI server), transformers (transformers serve); "
        "default auto: vllm where it is installed",
    )
    parser.add_argument(
        "--judge-server-timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="how long the judge server may take to start (default 600)",
    )
    parser.add_argument(
        "--judge-server-port", type=port_number, default=None, help="the judge server's loopback port (default: a free one)"
    )
    parser.add_argument(
        "--judge-max-model-len",
        type=positive_int,
        default=None,
        metavar="TOKENS",
        help="the judge's context (default: the checkpoint's); a judge prompt that leaves no room for the reply's "
        "max_tokens is invalid, reason 'prompt too long'",
    )
    parser.add_argument(
        "--judge-server-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another judge server flag, repeatable (e.g. gpu-memory-utilization=0.3 for a vLLM judge beside generation)",
    )


def judge_server_settings(args: argparse.Namespace) -> JudgeServerSettings:
    """The local judge flags of a command (`add_judge_checkpoint_flags`), as the job layer takes them."""
    return JudgeServerSettings(
        judge_checkpoint=getattr(args, "judge_checkpoint", None),
        judge_server=getattr(args, "judge_server", None),
        judge_server_timeout=getattr(args, "judge_server_timeout", None),
        judge_server_port=getattr(args, "judge_server_port", None),
        judge_max_model_len=getattr(args, "judge_max_model_len", None),
        judge_server_arg=tuple(getattr(args, "judge_server_arg", None) or ()),
        judge_base_url=getattr(args, "judge_base_url", None),
        judge_model=getattr(args, "judge_model", None),
    )


def local_judge(args: argparse.Namespace, log: Callable[[str], None] | None = None) -> AbstractContextManager[Any]:
    """The judge checkpoint served while the block runs (a ServedJudge), or None without --judge-checkpoint.
    Flags that name another judge (an endpoint, a model at it) cannot go with it."""
    return served_judge(judge_server_settings(args), log)
