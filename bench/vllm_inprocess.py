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

from evalkit.generate.chat import render, stop_token_ids
from evalkit.records import Prompt


class VLLMInProcess:
    def __init__(self, path: str, tokenizer: Any, dtype: str = "float32") -> None:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
        import vllm

        began = time.perf_counter()
        self.vllm = vllm
        self.llm = vllm.LLM(model=path, dtype=dtype, seed=0)
        self.startup_s = time.perf_counter() - began
        self.tokenizer = tokenizer
        self.stop_ids = stop_token_ids(tokenizer)
        self.warmed: set[tuple[int, int]] = set()

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

    def __call__(self, prompts: list[Prompt], new_tokens: int) -> int:
        if (len(prompts), new_tokens) not in self.warmed:
            self._run(prompts, new_tokens)
            self.warmed.add((len(prompts), new_tokens))
        return self._run(prompts, new_tokens)

    def answers(self, prompts: list[Prompt], new_tokens: int) -> list[list[int]]:
        params = self.vllm.SamplingParams(
            temperature=0.0, max_tokens=new_tokens, repetition_penalty=1.0, stop_token_ids=self.stop_ids
        )
        return [list(o.outputs[0].token_ids) for o in self.llm.generate(self._inputs(prompts), params, use_tqdm=False)]
