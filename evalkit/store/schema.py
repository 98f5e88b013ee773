"""Table definitions. Portable SQLAlchemy Core only: the same schema runs on SQLite and Postgres.

Bump SCHEMA_VERSION whenever a table changes shape, and add the step that upgrades the previous
version in place to migrations.py; `Store` refuses a database of any other version instead of guessing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from evalkit.core.vocabulary import ORDERS, VERDICTS

# 2: human_labels.source and rating_labels.source (label provenance)
# 3: pairwise annotations and absolute ratings in one table family with a `kind` (schema_v2.py: before)
# 4: annotation_items.draw_probability and draws (items drawn with unequal probability, active inference)
# 5: the ix_judgment_uses_generation_a index (a page's rows read by answer)
SCHEMA_VERSION = 5

metadata = MetaData()

HASH = String(64)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Prompts are content-addressed: the same messages in two sets are one row, so generations made for
# one set are reused by another.
prompts = Table(
    "prompts",
    metadata,
    Column("hash", HASH, primary_key=True),
    Column("messages", JSON, nullable=False),
    Column("instruction", Text, nullable=False),
)

prompt_sets = Table(
    "prompt_sets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("content_hash", HASH, nullable=False),
    Column("source", Text, nullable=False),
    Column("n_prompts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

prompt_set_items = Table(
    "prompt_set_items",
    metadata,
    Column("set_name", String(200), ForeignKey("prompt_sets.name", ondelete="CASCADE"), primary_key=True),
    Column("item_id", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("prompt_hash", HASH, ForeignKey("prompts.hash"), nullable=False),
    Column("reference", Text),
    Column("dataset", String(200)),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(300), nullable=False),
    Column("fingerprint", HASH, nullable=False, unique=True),
    Column("path", Text),
    Column("epoch", Integer),
    Column("run", Text),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

generations = Table(
    "generations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("prompt_hash", HASH, ForeignKey("prompts.hash"), nullable=False),
    Column("sample", Integer, nullable=False),
    Column("decoding_hash", HASH, nullable=False),
    Column("decoding", JSON, nullable=False),
    Column("backend", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("finish_reason", String(40)),
    Column("latency_s", Float),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    UniqueConstraint("model_id", "prompt_hash", "decoding_hash", "sample", name="uq_generation"),
)

judgments = Table(
    "judgments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cache_key", HASH, nullable=False, unique=True),
    Column("judge_kind", String(40), nullable=False),
    Column("judge_spec_hash", HASH, nullable=False),
    Column("judge_model", String(300), nullable=False),
    Column("prompt_hash", HASH, ForeignKey("prompts.hash"), nullable=False),
    Column("generation_a", Integer, ForeignKey("generations.id")),
    Column("generation_b", Integer, ForeignKey("generations.id")),
    Column("order", String(2)),
    Column("sample", Integer, nullable=False, default=0),
    Column("raw", Text, nullable=False),
    Column("verdict", String(8)),
    Column("score", Float),
    Column("valid", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("cost_usd", Float),
    Column("latency_s", Float),
    Column("extra", JSON),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)
Index("ix_judgments_pair", judgments.c.generation_a, judgments.c.generation_b)
# The distinct judges of a store (every full read starts with them) from the index alone: ~50 ms
# instead of a ~0.5 s sort of ~500k rows.
Index("ix_judgments_judge", judgments.c.judge_kind, judgments.c.judge_model, judgments.c.judge_spec_hash)

# Which generation pairs each judgment answers for. A judgment's cache key covers the texts, not who
# wrote them, so two models that gave the same answer share one judge call; each pairing still gets
# its row here, and results read judgments through this table. use_key = hash(cache_key, a, b).
judgment_uses = Table(
    "judgment_uses",
    metadata,
    Column("use_key", HASH, primary_key=True),
    Column("cache_key", HASH, ForeignKey("judgments.cache_key"), nullable=False),
    Column("generation_a", Integer, ForeignKey("generations.id"), nullable=False),
    Column("generation_b", Integer, ForeignKey("generations.id")),
)
Index("ix_judgment_uses_cache_key", judgment_uses.c.cache_key)
# A page's rows for two models or for the human-labelled answers are read by answer (the leaderboard's
# Compare and Agreement pages, evalkit.results.reading's `generation_ids`): an index lookup instead of a
# scan of every use (~1 s at 5M judgments). Version 5 added it.
Index("ix_judgment_uses_generation_a", judgment_uses.c.generation_a)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run", Text, nullable=False),
    Column("chosen_model_id", Integer, ForeignKey("models.id")),
    Column("chosen_name", String(300), nullable=False),
    Column("epoch", Integer),
    Column("policy", String(100), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

# Human annotation, one table family for both kinds of batch (`kind`):
# - "pairwise" (LIMA Figure 11): a batch pairs a model with a baseline on one prompt set. Like judgments, an
#   item keeps the model's generation in generation_a and the baseline's in generation_b, and `order` says
#   which was shown as "Answer A" ("AB": the model's), drawn once per item so every annotator of the item
#   sees the same screen. Labels are in the shown order ("A" / "B" / "tie"), like judgments.verdict, so
#   evalkit.core.vocabulary.MODEL_VIEW reads both.
# - "absolute" (LIMA Figure 3): an item is one answer of one model (generation_a; generation_b and order
#   are NULL), rated "fail" / "pass" / "excellent". The batch may hold several models' answers.
# Each item takes at most `per_item` labels (label_writes.py); labels are insert-only, one per annotator.
BATCH_KINDS = ("pairwise", "absolute")
ABSOLUTE_LABELS = ("fail", "pass", "excellent")  # LIMA section 4, in the order the bar stacks them


def _listed(values: tuple[str, ...]) -> str:
    """SQL's list of fixed words, for a check constraint (never user input)."""
    return ", ".join(f"'{value}'" for value in values)


annotation_batches = Table(
    "annotation_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),  # invitations name batches of either kind
    Column("kind", String(16), nullable=False),
    Column("model_id", Integer, ForeignKey("models.id")),  # pairwise only
    Column("baseline_id", Integer, ForeignKey("models.id")),  # pairwise only
    Column("prompt_set", String(200), nullable=False),
    Column("per_item", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    CheckConstraint(f"kind IN ({_listed(BATCH_KINDS)})", name="ck_annotation_batch_kind"),
    CheckConstraint("kind <> 'pairwise' OR (model_id IS NOT NULL AND baseline_id IS NOT NULL)", name="ck_pairwise_batch_models"),
    CheckConstraint("per_item >= 1", name="ck_annotation_batch_per_item"),
)

annotation_items = Table(
    "annotation_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("annotation_batches.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("prompt_hash", HASH, ForeignKey("prompts.hash"), nullable=False),
    Column("generation_a", Integer, ForeignKey("generations.id"), nullable=False),  # the model's / the rated answer
    Column("generation_b", Integer, ForeignKey("generations.id")),  # the baseline's; NULL in an absolute batch
    Column("order", String(2)),  # "AB": the model's answer is shown as Answer A; "BA" otherwise; NULL: absolute
    # An item drawn by an unequal-probability design (`annotate create --select informative`): its
    # per-draw probability and how often it was drawn, the weights that keep the estimate unbiased
    # (evalkit.stats.active_inference). NULL: not drawn that way (every earlier batch), draws NULL = 1.
    Column("draw_probability", Float),
    Column("draws", Integer),
    UniqueConstraint("batch_id", "generation_a", name="uq_annotation_item_answer"),
    CheckConstraint(
        f'(generation_b IS NULL AND "order" IS NULL) OR (generation_b IS NOT NULL AND "order" IN ({_listed(ORDERS)}))',
        name="ck_annotation_item_shape",
    ),
)
# A pairwise batch shows each prompt once (an absolute one shows each model's answer to it).
Index(
    "uq_pairwise_item_prompt",
    annotation_items.c.batch_id,
    annotation_items.c.prompt_hash,
    unique=True,
    sqlite_where=annotation_items.c.generation_b.is_not(None),
    postgresql_where=annotation_items.c.generation_b.is_not(None),
)

# Labels of both kinds: a pairwise label (VERDICTS, in the shown order) or an absolute rating.
human_labels = Table(
    "human_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("annotator", String(200), nullable=False),
    Column("item_id", Integer, ForeignKey("annotation_items.id"), nullable=False),
    Column("label", String(12), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    # Where the label came from: "invitation:ID" (the Annotate page, through that invitation's link) or
    # "import:FILE" (`evalkit annotate import`). NULL: stored before version 2 recorded provenance.
    Column("source", Text),
    UniqueConstraint("annotator", "item_id", name="uq_human_label"),
    CheckConstraint(f"label IN ({_listed(VERDICTS + ABSOLUTE_LABELS)})", name="ck_human_label_value"),
)
Index("ix_human_labels_item", human_labels.c.item_id)

# What produced a result, stored once and readable from its hash. A judge spec row says how its
# judgments are read (`output`: verdict / preference / score, see evalkit.core.vocabulary) and holds the
# whole configuration (template text, parse rule, sampling) that the spec hash covers, so a number
# on any surface can be traced to the exact judge that made it.
judge_specs = Table(
    "judge_specs",
    metadata,
    Column("spec_hash", HASH, primary_key=True),
    Column("judge_model", String(300), primary_key=True),
    Column("judge_kind", String(40), primary_key=True),
    Column("output", String(16), nullable=False),
    Column("label", Text, nullable=False),
    Column("description", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

# One row per `evalkit run` / `pick` / `judge` invocation: what was asked (configuration, no secrets)
# and which evalkit did it (version, git revision when run from a checkout).
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command", String(40), nullable=False),
    Column("evalkit_version", String(40), nullable=False),
    Column("git_revision", String(64)),
    Column("config", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
)

# The process that runs each evaluating run (host, pid, and the pid's start time, so a reused pid is
# not taken for it): a run whose process was SIGKILLed never records its end, and `stats runs` tells
# it from a live one by this. A new table: older stores get it on their next open (create_all).
run_processes = Table(
    "run_processes",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("process_start", BigInteger),  # /proc/PID/stat's start time (clock ticks after boot); NULL off Linux
)

# `evalkit judge-quality --save NAME`: a judge-quality report (humans' ceiling + one entry per judge),
# kept whole so the leaderboard's Judges page shows it as it was computed. A new table: older stores
# get it on their next open (create_all), nothing else changes shape.
judge_quality_reports = Table(
    "judge_quality_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("report", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

# Invitations to annotate (one link per annotator and batch). Only the SHA-256 of the link's random
# token is kept, so the store (a backup, a copied SQLite file) never holds a usable link. `batch_name`
# names a batch of either kind (annotation_batches.name, unique across both).
annotation_invitations = Table(
    "annotation_invitations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", HASH, nullable=False, unique=True),
    Column("batch_name", String(200), nullable=False),
    Column("annotator", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

# Data recipes (evalkit.datarecipes). Cached LLM calls that generate training data (expand, lengthen,
# tag): cache_key = hash(template hash, model, inputs, sampling), so a changed prompt or model asks again.
# Only successful replies are stored (never errors); an unparseable reply is stored with valid = False so a
# re-run neither pays for it again nor lets it into the data.
data_generations = Table(
    "data_generations",
    metadata,
    Column("cache_key", HASH, primary_key=True),
    Column("task", String(40), nullable=False),  # new_tasks | new_instances | oneshot_instances | lengthen | tag
    Column("template_hash", HASH, nullable=False),
    Column("model", String(200), nullable=False),
    Column("raw", Text, nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("cost_usd", Float),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

# A sweep (evalkit sweep) is identified by the hash of its definition (data, grid, base model, recipe,
# prompts, judges); each cell is one data recipe trained and evaluated. `best` holds the chosen cell and
# its paired-bootstrap comparison with the runner-up.
sweeps = Table(
    "sweeps",
    metadata,
    Column("sweep_key", HASH, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("best", JSON),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), server_default=func.now()),
)

sweep_cells = Table(
    "sweep_cells",
    metadata,
    Column("sweep_key", HASH, ForeignKey("sweeps.sweep_key", ondelete="CASCADE"), primary_key=True),
    Column("cell_key", HASH, primary_key=True),
    Column("source", String(200), nullable=False),
    Column("size", Integer, nullable=False),
    Column("ability", String(200)),  # None: every ability at proportion 1
    Column("proportion", Float, nullable=False),
    Column("n_examples", Integer, nullable=False),
    Column("data_hash", HASH, nullable=False),
    Column("checkpoint", Text, nullable=False),
    Column("model_id", Integer, ForeignKey("models.id")),
    Column("judge", String(100), nullable=False),
    Column("n", Integer, nullable=False),
    Column("win_rate", Float),
    Column("ci_low", Float),
    Column("ci_high", Float),
)
