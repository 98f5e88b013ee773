"""The checkpoint decision: the pick policy (a pure function of per-prompt results) and its typed evidence record."""
