"""Data recipes: the seed papers' data pipelines over dialog JSONL (the training format), and sweeps
that train and evaluate what they produce. One module per tool; `evalkit data` and `evalkit sweep`
are their command-line faces."""
