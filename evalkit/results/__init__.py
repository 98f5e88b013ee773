"""The results layer: what stored judgments mean and the one summary every surface reads.

`tables` turns the store's judgments into tidy per-output tables; `summary.summarize` aggregates
them over a scope (prompts, generation sets, judges, baseline) with each output's one definition;
`agreement` lines up human labels and judges' verdicts on the same generations. `run`, `pick`,
`judge`, `stats`, `agreement` and the leaderboard all read numbers from here.
"""
