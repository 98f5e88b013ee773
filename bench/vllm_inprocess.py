"""vLLM in-process (`vllm.LLM`), as a method of bench/generate.py: the same prompts as token ids through
the same chat template, greedy, repetition penalty 1.0, stopping at the same end-of-turn tokens.

The engine is built once per model (its start-up, a minute of compiling and warming on 2 cores, is not
timed: a user pays it once per run, and bench/generate.py reports it apart) and warmed by a whole untimed
pass over the prompts at the measured length, so every batch shape the timed pass meets has been seen.
"""

from __future__ import annotations

import os
import time
from typing import Any

from evalkit.core.records import Prompt
from evalkit.generate.chat import render, stop_token_ids


class VLLMInProcess:
    def __init__(self, path: str, tokenizer: Any, dtype: str = "float32") -> None:
        from evalkit.generate.server import vllm_cpu_env

        os.environ.update(vllm_cpu_env())  # what evalkit's vLLM backends run with
        import vllm

        began = time.perf_counter()
        self.vllm = vllm
        self.llm = vllm.LLM(model=path, dtype=dtype, seed=0)
        self.startup_s = time.perf_counter() - began
        self.tokenizer = tokenizer
        self.stop_ids = stop_token_ids(tokenizer)

    def _inputs(self, prompts: list[Prompt]) -> list[dict[str, list[int]]]:
        return [
            {"prompt_token_ids": self.tokenizer(render(self.tokenizer, p.messages), add_special_tokens=False)["input_ids"]}
            for p in prompts
        ]

    def _run(self, prompts: list[Prompt], new_tokens: int) -> int:
        params = self.vllm.SamplingParams(
            temperature=0.0, max_tokens=new_tokens, repetition_penalty=1.0, stop_token_ids=self.stop_ids
        )
        outputs = self.llm.generate(self._inputs(prompts), params, use_tqdm=False)
        # the stop token counts, as the other methods count it
        return sum(len(o.outputs[0].token_ids) for o in outputs)

    def measure(self, prompts: list[Prompt], new_tokens: int, rounds: int) -> tuple[float, int]:
        """(tokens/s pooled over `rounds` timed passes, tokens per pass), after one untimed pass."""
        self._run(prompts, new_tokens)
        seconds = tokens = 0.0
        for _ in range(rounds):
            began = time.perf_counter()
            tokens += self._run(prompts, new_tokens)
            seconds += time.perf_counter() - began
        return tokens / seconds, round(tokens / rounds)

    def close(self) -> None:
        """Stop the engine's processes and free their memory before the next model is measured."""
        import gc

        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del self.llm
        gc.collect()
