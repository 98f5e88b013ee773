"""What judge calls cost, and the `--max-cost` budget that stops a job before it would overspend.

Prices are USD per million tokens (input, output). The built-in table holds OpenAI list prices; a
YAML/JSON file (`--prices`, env EVALKIT_PRICES) adds or overrides models, e.g. a local vLLM judge:

    my-local-judge: {input: 0, output: 0}
    gpt-4o: {input: 2.5, output: 10}

Dated snapshots ("gpt-4o-2024-08-06") use their family's price (longest matching prefix).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.files.userfile import UserFile

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4-1106-preview": (10.00, 30.00),
    "gpt-4-0125-preview": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}
PER_MESSAGE_OVERHEAD_TOKENS = 8


@dataclass
class PriceTable:
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def price(self, model: str) -> tuple[float, float] | None:
        if model in self.prices:
            return self.prices[model]
        families = [name for name in self.prices if model.startswith(name + "-")]
        return self.prices[max(families, key=len)] if families else None

    def cost(self, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        price = self.price(model)
        if price is None:
            return None
        return ((prompt_tokens or 0) * price[0] + (completion_tokens or 0) * price[1]) / 1_000_000


def load_price_table(path: str | Path | None) -> PriceTable:
    table = PriceTable()
    if path is None:
        return table
    source = Path(path)
    with UserFile(source, "price table (--prices / EVALKIT_PRICES)") as file:
        raw = file.json() if source.suffix == ".json" else file.yaml()
        if not isinstance(raw, Mapping):
            raise EvalkitError(f"price table {source}: expected a mapping of model -> {{input, output}} USD per 1M tokens")
        for model, entry in raw.items():
            try:
                table.prices[str(model)] = (float(entry["input"]), float(entry["output"]))
            except (TypeError, KeyError, ValueError):
                raise EvalkitError(
                    f"price table {source}: entry {model!r} needs numeric `input` and `output` (USD per 1M tokens)"
                ) from None
    return table


class Budget:
    """Reserve an upper estimate before each request and settle with the real cost after it.

    A request is only sent when spent + in-flight reservations + its estimate stay within the limit,
    so the job stops cleanly (finished work stored) instead of discovering the overspend afterwards.
    """

    def __init__(self, limit_usd: float | None, table: PriceTable, model: str) -> None:
        self.limit = limit_usd
        self.table = table
        self.model = model
        self.spent = 0.0
        self.reserved = 0.0
        self.exhausted = False
        self._tokens_per_byte = 1.0  # byte-level BPE never uses more tokens than bytes; refined as usage arrives
        self._densest = 0.0
        if limit_usd is not None and table.price(model) is None:
            raise EvalkitError(f"--max-cost needs a price for judge model {model!r}; add it to a --prices file")

    def estimate(self, messages: Sequence[Mapping[str, str]], max_tokens: int) -> float:
        if self.limit is None:
            return 0.0
        size = sum(len(m["content"].encode("utf-8")) for m in messages)
        prompt_tokens = math.ceil(size * self._tokens_per_byte) + PER_MESSAGE_OVERHEAD_TOKENS * len(messages)
        return self.table.cost(self.model, prompt_tokens, max_tokens) or 0.0

    def try_reserve(self, amount: float) -> bool:
        if self.limit is None:
            return True
        if self.exhausted or self.spent + self.reserved + amount > self.limit:
            self.exhausted = True
            return False
        self.reserved += amount
        return True

    def settle(self, reserved: float, actual: float | None, prompt_bytes: int = 0, prompt_tokens: int | None = None) -> None:
        self.reserved -= reserved
        self.spent += actual or 0.0
        if prompt_bytes > 0 and prompt_tokens:
            self._densest = max(self._densest, prompt_tokens / prompt_bytes)
            self._tokens_per_byte = min(1.0, 1.2 * self._densest)  # 20% margin over the densest prompt seen
