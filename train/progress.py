"""A progress bar for training that shows what an engineer watches: loss, tokens/s and time left."""

from __future__ import annotations

import time
from typing import Any

from tqdm.auto import tqdm
from transformers import TrainerCallback


class TrainProgress(TrainerCallback):
    """One tqdm bar over optimizer steps (tqdm gives the ETA) with loss, lr and tokens/s of this session."""

    def __init__(self, disable: bool = False) -> None:
        self.disable = disable
        self.bar: tqdm | None = None
        self.started = 0.0
        self.tokens_at_start = 0
        self.tokens_per_second = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero and not self.disable:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train", unit="step", dynamic_ncols=True)
        self.started = time.perf_counter()
        self.tokens_at_start = state.num_input_tokens_seen

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        elapsed = time.perf_counter() - self.started
        if elapsed > 0:
            self.tokens_per_second = (state.num_input_tokens_seen - self.tokens_at_start) / elapsed
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(
                epoch=f"{state.epoch:.2f}",
                loss=f"{logs['loss']:.4f}",
                lr=f"{logs.get('learning_rate', 0):.2e}",
                tok_s=f"{self.tokens_per_second:,.0f}",
                refresh=False,
            )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
