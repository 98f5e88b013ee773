"""evalkit: turn a fine-tuning run into a decision (LIMA-style evaluation harness and leaderboard)."""

__version__ = "0.1.0"
