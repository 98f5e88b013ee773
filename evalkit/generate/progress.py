"""Generation progress that moves: answers count as done when they finish (per decoding step where
the backend reports steps), not when their whole batch returns, with tokens/s and an ETA.

A transformers batch of 64 long answers takes minutes on a CPU; counting per stored batch showed
0/50 for 74 s, then 41/50.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from evalkit.core.records import GenerationResult

REFRESH_S = 1.0
StepCallback = Callable[[int, int], None]  # (tokens generated this step, answers finished this step)


class GenerationProgress:
    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.bar = tqdm(total=total, desc=label, unit="answer", disable=not enabled or not total, dynamic_ncols=True)
        self.started = self.last_refresh = time.perf_counter()
        self.stored = 0  # answers in stored batches: the count the bar settles on after each batch
        self.tokens_stored = 0
        self.tokens_live = 0  # tokens of the batch being generated, as steps report them
        self.finished_live = 0

    def on_step(self, tokens: int, finished: int) -> None:
        self.tokens_live += tokens
        if finished:
            self.finished_live += finished
            self.bar.update(finished)
        self._show_rate()

    def on_batch(self, results: Sequence[GenerationResult]) -> None:
        """A batch was stored: its answers that hit the length limit (never seen finishing) count now,
        and the exact token counts replace the live estimate."""
        self.stored += len(results)
        self.tokens_stored += sum(r.completion_tokens or 0 for r in results)
        self.tokens_live = self.finished_live = 0
        self.bar.update(self.stored - self.bar.n)
        self._show_rate()

    def _show_rate(self) -> None:
        """tok/s in the postfix; redrawn at least every REFRESH_S even while no answer finishes."""
        now = time.perf_counter()
        if now > self.started:
            self.bar.set_postfix_str(
                f"{(self.tokens_stored + self.tokens_live) / (now - self.started):,.0f} tok/s", refresh=False
            )
        if now - self.last_refresh >= REFRESH_S:
            self.bar.refresh()
            self.last_refresh = now

    def __enter__(self) -> GenerationProgress:
        return self

    def __exit__(self, *_: object) -> None:
        self.bar.close()


def step_counter(stop_ids: Sequence[int], on_step: StepCallback) -> Any:
    """A transformers StoppingCriteriaList holding one criterion that stops nothing: after each decoding step it reports how
    many rows produced a token and how many of them just emitted a stop token."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StepCounter(StoppingCriteria):
        def __init__(self) -> None:
            self.done: Any = None
            self.stop = torch.tensor(list(stop_ids))

        def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
            if self.done is None:
                self.done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                self.stop = self.stop.to(input_ids.device)
            active = ~self.done
            finished = active & torch.isin(input_ids[:, -1], self.stop)
            self.done |= finished
            on_step(int(active.sum()), int(finished.sum()))
            return torch.zeros_like(self.done)

    return StoppingCriteriaList([StepCounter()])
