"""Statistics: pure functions over arrays and DataFrames, no I/O (see ARCHITECTURE.md).

winrate            AlpacaEval's win rate fields, as alpaca_eval computes them
length_controlled  length-controlled win rate through alpaca-eval's GLM (v1 when its hub file is cached),
                   its standard error, and the rule that withholds an extrapolated one
lima               win / tie / loss shares; Likert mean, bootstrap interval, distribution
compare            paired bootstrap of a difference, sign test, Wilcoxon signed-rank
sample_size        prompts that would separate two checkpoints at an observed difference (power 80%)
agreement          tie-discounted accuracy, kappa, N raters, vs-mode protocol, position and length bias
ranking            Bradley-Terry with bootstrap intervals and rank intervals
bootstrap          the shared prompt-level bootstrap (resample counts x columns)
summary            per (judge, model, baseline) summaries of the store's judge tables
head_to_head       rankings and paired comparisons over the same tables
"""
