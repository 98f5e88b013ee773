"""Names of the checkpoint-picking policies (kept apart from the policy code so the CLI can list
them without importing pandas)."""

POLICY = "winrate-likert-earliest"
POLICIES: tuple[str, ...] = (POLICY,)
