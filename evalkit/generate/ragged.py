"""One decoding step in which rows feed different numbers of tokens (their next token and its drafts).

Linear layers and the head run on the fed tokens only, packed into one sequence (1 x tokens): a row
without a draft costs one token, not the longest draft. Attention runs per run of consecutive rows that
feed the same number of tokens (and have similar left padding, as `row_group_attention` plans it): each
run is one SDPA call on a view of its rows' cache columns, so a row with an 8-token draft does not make
its neighbours attend with 9 queries (one uniform grid made a step 2x as slow on SmolLM2). Keys and
values are written straight into each row's next free columns; columns past a row's end (rejected
drafts) are masked and overwritten by its next step.

The plan reaches every layer's attention as the keyword `ragged` (transformers forwards the model call's
keyword arguments), and the cache through `PreallocatedCache.write_at`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Attend = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Run:
    first: int  # batch rows first..end-1, each feeding `width` tokens
    end: int
    width: int
    first_column: int  # the cache columns the run attends over
    end_column: int
    mask: torch.Tensor  # rows x 1 x width x columns, bool


@dataclass(frozen=True)
class RaggedStep:
    rows: torch.Tensor  # per fed token: its batch row
    columns: torch.Tensor  # per fed token: the cache column it is written to
    runs: list[Run]
    length: int  # the cache columns attention may read

    @classmethod
    def plan(
        cls, starts: torch.Tensor, feed_columns: torch.Tensor, fed: Sequence[int], groups: Sequence[tuple[int, int, int]]
    ) -> RaggedStep:
        """Row r's tokens are at cache columns starts[r]..feed_columns[r]-1 and it feeds fed[r] more from
        column feed_columns[r] on; `groups` are row_group_attention's (first row, end row, first column)."""
        device = starts.device
        counts = torch.tensor(fed, device=device)
        rows = torch.repeat_interleave(torch.arange(len(fed), device=device), counts)
        index = torch.arange(len(rows), device=device) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
        columns = feed_columns[rows] + index
        reach = (feed_columns + counts).tolist()  # each row's end column after this step
        first_columns = starts.tolist()
        runs = []
        for group_first, group_end, _ in groups:
            first = group_first
            for row in range(group_first + 1, group_end + 1):
                if row == group_end or fed[row] != fed[first]:
                    runs.append(cls._run(first, row, fed[first], starts, feed_columns, first_columns, reach))
                    first = row
        return cls(rows, columns, runs, max(reach))

    @staticmethod
    def _run(
        first: int,
        end: int,
        width: int,
        starts: torch.Tensor,
        feed_columns: torch.Tensor,
        first_columns: list[int],
        reach: list[int],
    ) -> Run:
        begin, stop = min(first_columns[first:end]), max(reach[first:end])
        visible = torch.arange(begin, stop, device=starts.device)[None, None, :]
        limit = feed_columns[first:end, None] + torch.arange(1, width + 1, device=starts.device)[None, :]
        mask = (visible >= starts[first:end, None, None]) & (visible < limit[:, :, None])  # query i sees up to itself
        return Run(first, end, width, begin, stop, mask[:, None])

    def attend(self, attend: Attend, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """(1, heads, tokens, size) packed queries -> (1, tokens, heads, size) attention output, one
        `attend(query, key, value, mask)` call per run (it returns rows x width x heads x size)."""
        heads, size = query.shape[1], query.shape[3]
        outputs, token = [], 0
        for run in self.runs:
            count = (run.end - run.first) * run.width
            run_query = query[0, :, token : token + count].reshape(heads, -1, run.width, size).transpose(0, 1)
            columns = slice(run.first_column, run.end_column)
            output = attend(run_query, key[run.first : run.end, :, columns], value[run.first : run.end, :, columns], run.mask)
            outputs.append(output.reshape(count, heads, size))
            token += count
        return torch.cat(outputs)[None]
