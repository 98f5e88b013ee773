"""Checks that run before a command's first expensive step: a judge setting that would fail after
minutes of generation (an unknown judge, a broken spec, an unreachable endpoint, a rejected key)
fails here, in seconds, with the line the judge run itself would have printed.

Flag ranges are checked while the command line is parsed (the `type=` functions of
evalkit.cli.commands.common); this module holds what needs more than one flag or a network call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evalkit.core.errors import EvalkitError

PROBE_TIMEOUT_S = 10.0  # one listing request; a healthy endpoint answers it in well under a second


def check_judges(names: Sequence[str], judge_model: str | None, base_url: str | None, *, probe: bool = True) -> None:
    """Build every judge (unknown names and bad spec files fail here) and, when any of them asks a
    model, probe the endpoint once: unreachable or key rejected ends the command before any work.
    `probe=False` for a judge checkpoint served by the command itself (its start is the check)."""
    from evalkit.judges.base import LLMJudge
    from evalkit.judges.registry import make_judge

    judges = [make_judge(name, judge_model=judge_model) for name in names]
    if probe and any(isinstance(judge, LLMJudge) for judge in judges):
        probe_endpoint(base_url)


def probe_endpoint(base_url: str | None) -> None:
    """GET /models without client retries: free (no tokens), and it needs both a live server and an
    accepted key, so a re-run of finished work still makes no judge request. A server without that
    route (404) or a busy one (429/5xx) passes: the judge run's own retries deal with those."""
    import openai

    from evalkit.judges.calls import resolve_endpoint

    endpoint = resolve_endpoint(base_url, timeout_s=PROBE_TIMEOUT_S, http_retries=0)
    client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=PROBE_TIMEOUT_S, max_retries=0)
    try:
        client.models.list()
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise EvalkitError(
            f"judge endpoint {endpoint.shown_url} rejected the API key ({exc.status_code}); check OPENAI_API_KEY"
        ) from None
    except openai.APIConnectionError:  # includes timeouts
        raise EvalkitError(
            f"cannot reach judge endpoint {endpoint.shown_url}; is the server running and --judge-base-url right?"
        ) from None
    except openai.APIStatusError:
        pass
    finally:
        client.close()


def check_checkpoints(target: str, epochs: list[int] | None) -> None:
    """`run` skips a broken checkpoint and goes on with the others (exit 1); when none of them can be
    loaded there is nothing to do, which is bad input: say so before the store is touched."""
    from evalkit.generate.checkpoint import validate_checkpoint
    from evalkit.jobs.evaluation import select_checkpoints

    checkpoints = select_checkpoints(target, epochs)
    problems = []
    for checkpoint in checkpoints:
        try:
            validate_checkpoint(checkpoint.path)
        except EvalkitError as exc:
            problems.append(str(exc))
    if problems and len(problems) == len(checkpoints):
        raise EvalkitError("no checkpoint can be loaded: " + "; ".join(problems))


def check_input_file(flag: str, value: str | None) -> None:
    """A file flag (`--outputs`, `--baseline` of `judge`) names a file that is there, checked before the
    store is opened: a typo must not leave a new store behind."""
    if value is None or Path(value).is_file():
        return
    raise EvalkitError(f"{flag} {value}: {'not a file' if Path(value).exists() else 'file not found'}")


def check_baseline(spec: str | None, db_url: str) -> None:
    """`--baseline FILE or MODEL` (run, pick, sweep): a typo is neither, said before any store is created."""
    from evalkit.store.lookup import has_model

    if spec is None or Path(spec).is_file() or has_model(db_url, spec):
        return
    what = "a folder, not a model_outputs.json file," if Path(spec).exists() else "no such file"
    raise EvalkitError(f"--baseline {spec}: {what} and no model of that name in the store")
