"""AlpacaEval 2's weighted judge, read from the installed alpaca-eval package rather than copied.

The template, `max_tokens`, the top-k logprobs and the parser's tokens come from the package's
`weighted_alpaca_eval_gpt4_turbo` config; the shown order is AlpacaEval's own seeded per-instruction
switch and the logprob arithmetic is its `logprob_parser`, so our preferences equal AlpacaEval's for
the same judge replies. In AlpacaEval output_1 is the baseline and output_2 the evaluated model;
a preference of 2 means the model wins.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path
from typing import Any

import yaml

from evalkit.core.errors import EvalkitError
from evalkit.core.records import ScorerSpec
from evalkit.judges.aggregation import aggregates
from evalkit.judges.base import INVALID, LLMJudge, Message, Reply, SlotTexts, Verdict, shown
from evalkit.judges.templates import Template

CONFIG_NAME = "weighted_alpaca_eval_gpt4_turbo"
# PairwiseAnnotator's default seed, which `alpaca_eval evaluate` uses: it reproduces the published
# annotations' `is_switched_outputs` (checked against data/alpaca_eval in tests).
SWITCH_SEED = 0
SWITCH_COLUMN = "is_switched_outputs"


def evaluators_config_dir() -> Path:
    spec = importlib.util.find_spec("alpaca_eval")
    if spec is None or not spec.submodule_search_locations:
        raise EvalkitError("the alpaca_eval judge needs the alpaca-eval package; pip install alpaca-eval")
    return Path(list(spec.submodule_search_locations)[0]) / "evaluators_configs"


def load_annotator_config(name: str = CONFIG_NAME) -> tuple[dict[str, Any], Template]:
    """(annotator config, its prompt template) as the installed alpaca-eval defines them."""
    base = evaluators_config_dir()
    config_path = base / name / "configs.yaml"
    if not config_path.is_file():
        raise EvalkitError(f"alpaca-eval has no evaluator config {name!r} (looked in {base})")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))[name]
    template_path = base / config["prompt_template"]
    return config, Template(name=f"alpaca_eval:{config['prompt_template']}", text=template_path.read_text(encoding="utf-8"))


# One shown order per pair and a continuous preference: AlpacaEval's weighted win rate.
@aggregates(ScorerSpec("alpaca_eval", "preference"))
class AlpacaEvalJudge(LLMJudge):
    kind = "alpaca_eval"
    mode = "pairwise"
    label = "alpaca_eval (AlpacaEval 2 weighted judge)"

    def __init__(self, judge_model: str | None = None, *, config_name: str = CONFIG_NAME, temperature: float = 0.0) -> None:
        root_level = logging.getLogger().level
        from alpaca_eval import completion_parsers, utils  # slow import (pulls datasets): only for this judge

        logging.getLogger().setLevel(root_level)  # alpaca_eval sets the root logger to INFO on import
        self._logprob_parser = completion_parsers.logprob_parser
        self._seeded_choice = utils.random_seeded_choice
        self._to_chat = utils.prompt_to_chatml
        config, self.template = load_annotator_config(config_name)
        self.template.require(["instruction", "output_1", "output_2"])
        completion = dict(config.get("completions_kwargs", {}))
        self.config_name = config_name
        self.parser_kwargs: dict[str, Any] = dict(config.get("completion_parser_kwargs", {}))
        self.judge_model = judge_model or str(completion.get("model_name"))
        self.max_tokens = int(completion.get("max_tokens", 1))
        self.top_logprobs = int(completion.get("top_logprobs", 5)) if completion.get("logprobs") else None
        # AlpacaEval samples at temperature 1 but reads only logprobs; 0 makes the text-token fallback
        # (servers without logprobs) the model's top choice instead of a draw.
        self.temperature = temperature

    def spec(self) -> dict[str, Any]:
        return {
            "config": self.config_name,
            "template": self.template.hash,
            "parser": self.parser_kwargs,
            "max_tokens": self.max_tokens,
            "top_logprobs": self.top_logprobs,
            "temperature": self.temperature,
            "switch_seed": SWITCH_SEED,
        }

    def orders(self, instruction: str) -> tuple[str, ...]:
        switched = self._seeded_choice(seed=SWITCH_COLUMN + instruction + str(SWITCH_SEED), choices=[False, True])
        return ("AB",) if switched else ("BA",)  # unswitched: output_1 (shown first) is the baseline

    def shortcut(self, texts: SlotTexts) -> Verdict | None:
        """AlpacaEval does not ask about identical outputs: preference 1.5."""
        if texts.output == texts.baseline:
            return Verdict(valid=True, verdict="tie", score=1.5, extra={"source": "identical outputs"})
        return None

    def messages(self, texts: SlotTexts, order: str | None) -> list[Message]:
        first, second = shown(texts, order)
        prompt = self.template.render({"instruction": texts.question, "output_1": first, "output_2": second})
        return [{"role": m["role"], "content": m["content"]} for m in self._to_chat(prompt.strip())]

    def _preference_shown(self, reply: Reply) -> tuple[float, str] | None:
        """AlpacaEval's preference in the shown order (1 = first shown better) and where it came from."""
        if reply.top_logprobs:
            completion = {
                "logprobs": {"content": [{"top_logprobs": [{"token": t, "logprob": lp} for t, lp in reply.top_logprobs]}]}
            }
            value = self._logprob_parser(completion, **self.parser_kwargs)[0]
            if value is not None and not math.isnan(value):
                return float(value), "logprobs"
        token = reply.text.strip()
        first_token = self.parser_kwargs.get("numerator_token", "m")
        if token == first_token:
            return 1.0, "text"
        if token in self.parser_kwargs.get("denominator_tokens", ["m", "M"]):
            return 2.0, "text"
        return None

    def parse(self, reply: Reply, order: str | None) -> Verdict:
        found = self._preference_shown(reply)
        if found is None:
            return INVALID
        preference_shown, source = found
        p_first = 2.0 - preference_shown
        p_model = p_first if order == "AB" else 1.0 - p_first
        verdict = "A" if p_first > 0.5 else "B" if p_first < 0.5 else "tie"
        return Verdict(valid=True, verdict=verdict, score=1.0 + p_model, extra={"p_first": p_first, "source": source})
