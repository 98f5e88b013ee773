"""Names of the checkpoint-picking policies (kept apart from the policy code so the CLI can list
them without importing pandas)."""

POLICY = "winrate-likert-earliest"
# Ranks on the combined (human + judge, PPI++) win rate; every checkpoint needs human labels.
COMBINED_POLICY = "combined-likert-earliest"
POLICIES: tuple[str, ...] = (POLICY, COMBINED_POLICY)
