"""Store: the one place that talks to the database. Each write is its own short transaction, so a
killed process loses at most the batch it was writing, and re-runs skip what is already there."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Select, Table, event, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import ConnectionPoolEntry

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.records import Decision, DecodingParams, GenerationResult, Judgment, ModelInfo, Prompt, PromptSet
from evalkit.core.redaction import redact_url
from evalkit.store import migrations
from evalkit.store import schema as t
from evalkit.store.created_files import note_created
from evalkit.store.opening import check_sqlite_file, make_engine, parse_url, sqlite_path
from evalkit.store.readonly import reader_engine

__all__ = ["Store", "decoding_identity"]


MMAP_BYTES = 1 << 30  # address space only: pages are the OS cache's


# SQLite's listeners get the driver's own connection: evalkit's SQLite dialect is pysqlite (sqlite3).
def _sqlite_reader_pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # The wait for a lock first: switching a new store to WAL takes one, and two jobs may open it at once.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Reads go through memory-mapped pages (shared with the OS cache, no extra memory): the
    # leaderboard's full read of ~500k judgments is ~25% faster than through read() calls.
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
    _sqlite_reader_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    # WAL lets the leaderboard read while a run writes; NORMAL sync is durable across process kills.
    # (Writers only: setting the journal mode is a write, which a reader must not make.)
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


IMPORTED_DECODING: dict[str, Any] = {"imported": True}  # JSON values


def decoding_identity(decoding: DecodingParams | None) -> tuple[str, dict[str, Any]]:
    """(hash, stored dict) of a generation's decoding; imported outputs share one fixed identity."""
    if decoding is None:
        return content_hash(IMPORTED_DECODING), IMPORTED_DECODING
    return decoding.hash, decoding.as_dict()


class Store:
    """`read_only=True` (stats, agreement, leaderboard, status): never creates or alters a store; a
    missing, empty or foreign database is an error naming it."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self.schema_version = t.SCHEMA_VERSION
        parsed = parse_url(url)
        path = sqlite_path(parsed)
        is_new = check_sqlite_file(path, read_only) if path is not None else False
        # A reader's SQLite connections are read-only (on read-only media too); see evalkit.store.readonly.
        self.engine: Engine = reader_engine(path) if read_only and path is not None else make_engine(url, parsed)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_reader_pragmas if read_only else _sqlite_pragmas)
        if is_new and path is not None:
            note_created(path, self.engine)
        try:
            if not read_only:
                self._create_tables()
                self._create_missing_indexes()
            self._check_schema_version()
        except DBAPIError as exc:
            raise EvalkitError(f"cannot open database {redact_url(url)}: {str(exc.orig).splitlines()[0]}") from None

    # ---- plumbing -------------------------------------------------------------------------------

    def _create_tables(self) -> None:
        """create_all checks, then creates: two jobs opening a new store together can both see a table
        missing, and the second CREATE fails. The second try finds the tables and creates nothing."""
        try:
            t.metadata.create_all(self.engine)
        except DBAPIError:
            t.metadata.create_all(self.engine)

    def _create_missing_indexes(self) -> None:
        """create_all builds indexes only with new tables; an index a later evalkit added (to speed a
        read) is built here on first open of an older store, once. A store we may not write to is
        read without it (only slower)."""
        for table in t.metadata.sorted_tables:
            for index in table.indexes:
                try:
                    with self.engine.begin() as conn:
                        index.create(conn, checkfirst=True)
                except DBAPIError:
                    pass

    def _check_schema_version(self) -> None:
        """Stamp a new store; upgrade an older one in place (writers only: a reader reads it as it is,
        see `has_label_sources`); refuse a newer or unknown version."""
        if self.read_only and not inspect(self.engine).has_table(t.meta.name):
            raise EvalkitError(f"{redact_url(self.url)} is not an evalkit store (no evalkit tables); pass another --db")
        with self.engine.begin() as conn:
            row = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).first()
            if row is None:
                if self.read_only:
                    raise EvalkitError(f"{redact_url(self.url)} is not an evalkit store (no schema version); pass another --db")
                self._insert_ignore(conn, t.meta, [{"key": "schema_version", "value": str(t.SCHEMA_VERSION)}])
                return
        version = int(row[0])
        if version != t.SCHEMA_VERSION and not migrations.upgradable(version):
            raise EvalkitError(
                f"database {redact_url(self.url)} has schema version {version}, this evalkit needs "
                f"{t.SCHEMA_VERSION}; use a new --db"
            )
        if version != t.SCHEMA_VERSION and not self.read_only:
            migrations.upgrade(self.engine)
            version = t.SCHEMA_VERSION
        self.schema_version = version

    @property
    def has_label_sources(self) -> bool:
        """False for a version-1 store opened read-only (not upgraded): its labels have no source column."""
        return self.schema_version >= 2

    def _insert_ignore(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows, skipping those that collide with a unique key (a re-run's finished work)."""
        if not rows:
            return 0
        dialect = self.engine.dialect.name
        if dialect in ("sqlite", "postgresql"):
            module = sqlite if dialect == "sqlite" else postgresql
            # RETURNING counts what was inserted: executemany's rowcount is not reported by psycopg.
            statement = module.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
            return len(conn.execute(statement, list(rows)).all())
        inserted = 0
        for row in rows:  # other databases: one savepoint per row
            try:
                with conn.begin_nested():
                    conn.execute(insert(table), [row])
                inserted += 1
            except IntegrityError:
                pass
        return inserted

    def frame(self, query: Select[Any]) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    @property
    def dialect_name(self) -> str:
        """The database's kind: "sqlite", "postgresql", ..."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Close the pooled connections (the store stays usable: a later call opens new ones)."""
        self.engine.dispose()

    # ---- prompt sets ----------------------------------------------------------------------------

    def save_prompt_set(self, prompt_set: PromptSet) -> None:
        """Store the set; a set re-loaded with changed content replaces its items (old generations stay,
        keyed by prompt content)."""
        try:
            self._save_prompt_set(prompt_set)
        except IntegrityError:  # another job saved the set between our look and our insert: look again
            self._save_prompt_set(prompt_set)

    def _save_prompt_set(self, prompt_set: PromptSet) -> None:
        with self.engine.begin() as conn:
            self._insert_ignore(
                conn,
                t.prompts,
                [{"hash": p.hash, "messages": list(p.messages), "instruction": p.instruction} for p in prompt_set.prompts],
            )
            existing = conn.execute(select(t.prompt_sets.c.content_hash).where(t.prompt_sets.c.name == prompt_set.name)).scalar()
            if existing == prompt_set.content_hash:
                return
            if existing is not None:
                conn.execute(t.prompt_set_items.delete().where(t.prompt_set_items.c.set_name == prompt_set.name))
                conn.execute(t.prompt_sets.delete().where(t.prompt_sets.c.name == prompt_set.name))
            conn.execute(
                insert(t.prompt_sets),
                [
                    {
                        "name": prompt_set.name,
                        "content_hash": prompt_set.content_hash,
                        "source": prompt_set.source,
                        "n_prompts": len(prompt_set.prompts),
                    }
                ],
            )
            conn.execute(
                insert(t.prompt_set_items),
                [
                    {
                        "set_name": prompt_set.name,
                        "item_id": p.id,
                        "position": i,
                        "prompt_hash": p.hash,
                        "reference": p.reference,
                        "dataset": p.dataset,
                    }
                    for i, p in enumerate(prompt_set.prompts)
                ],
            )

    def load_prompt_set(self, name: str) -> PromptSet:
        query = (
            select(t.prompt_set_items, t.prompts.c.messages, t.prompt_sets.c.source)
            .join(t.prompts, t.prompts.c.hash == t.prompt_set_items.c.prompt_hash)
            .join(t.prompt_sets, t.prompt_sets.c.name == t.prompt_set_items.c.set_name)
            .where(t.prompt_set_items.c.set_name == name)
            .order_by(t.prompt_set_items.c.position)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            raise EvalkitError(f"prompt set {name!r} is not in the store; load it with --prompts FILE first")
        prompts = tuple(
            Prompt(id=r["item_id"], messages=tuple(r["messages"]), reference=r["reference"], dataset=r["dataset"]) for r in rows
        )
        return PromptSet(name=name, prompts=prompts, source=rows[0]["source"])

    # ---- models ---------------------------------------------------------------------------------

    def register_model(self, info: ModelInfo) -> int:
        """Insert the model or refresh its name/path/epoch; identity is the fingerprint."""
        values = {"name": info.name, "path": info.path, "epoch": info.epoch, "run": info.run}
        with self.engine.begin() as conn:
            self._insert_ignore(conn, t.models, [{"fingerprint": info.fingerprint, **values}])
            conn.execute(update(t.models).where(t.models.c.fingerprint == info.fingerprint).values(**values))
            return int(conn.execute(select(t.models.c.id).where(t.models.c.fingerprint == info.fingerprint)).scalar_one())

    def models(self) -> pd.DataFrame:
        return self.frame(select(t.models).order_by(t.models.c.id))

    def model_id(self, name: str) -> int:
        """The newest model of that name (a name can be re-used by a retrained checkpoint)."""
        with self.engine.connect() as conn:
            found = conn.execute(select(t.models.c.id).where(t.models.c.name == name).order_by(t.models.c.id.desc())).first()
        if found is None:
            raise EvalkitError(f"model {name!r} is not in the store; run `evalkit generate` for it first")
        return int(found[0])

    # ---- generations ----------------------------------------------------------------------------

    def stored_generation_keys(self, model_id: int, decoding: DecodingParams | None) -> set[tuple[str, int]]:
        query = select(t.generations.c.prompt_hash, t.generations.c.sample).where(
            t.generations.c.model_id == model_id, t.generations.c.decoding_hash == decoding_identity(decoding)[0]
        )
        with self.engine.connect() as conn:
            return {(row[0], int(row[1])) for row in conn.execute(query)}

    def add_generations(
        self, model_id: int, decoding: DecodingParams | None, backend: str, results: Iterable[GenerationResult]
    ) -> int:
        """`decoding=None` marks outputs imported from a file, whose decoding is unknown."""
        decoding_hash, decoding_dict = decoding_identity(decoding)
        rows = [
            {"model_id": model_id, "decoding_hash": decoding_hash, "decoding": decoding_dict, "backend": backend, **asdict(r)}
            for r in results
        ]
        with self.engine.begin() as conn:
            return self._insert_ignore(conn, t.generations, rows)

    def generations(self, model_id: int | None = None, decoding_hash: str | None = None) -> pd.DataFrame:
        """Generations joined with their prompt's instruction and messages, one row per (model, prompt,
        decoding, sample)."""
        query = (
            select(
                t.generations,
                t.prompts.c.instruction,
                t.prompts.c.messages,
                t.models.c.name.label("model_name"),
            )
            .join(t.prompts, t.prompts.c.hash == t.generations.c.prompt_hash)
            .join(t.models, t.models.c.id == t.generations.c.model_id)
        )
        if model_id is not None:
            query = query.where(t.generations.c.model_id == model_id)
        if decoding_hash is not None:
            query = query.where(t.generations.c.decoding_hash == decoding_hash)
        return self.frame(query.order_by(t.generations.c.id))

    # ---- judgments ------------------------------------------------------------------------------

    def stored_judgment_keys(self, cache_keys: Iterable[str]) -> set[str]:
        keys = list(cache_keys)
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
                chunk = keys[start : start + 500]
                found.update(conn.execute(select(t.judgments.c.cache_key).where(t.judgments.c.cache_key.in_(chunk))).scalars())
        return found

    def add_judgments(self, items: Iterable[Judgment]) -> int:
        rows = [asdict(judgment) for judgment in items]
        with self.engine.begin() as conn:
            return self._insert_ignore(conn, t.judgments, rows)

    def add_judgments_with_uses(self, items: Iterable[Judgment], uses: Iterable[tuple[str, int, int | None]]) -> int:
        """Store judgments and the (cache_key, generation_a, generation_b) pairings they answer for, in
        one transaction; already stored rows are skipped."""
        with self.engine.begin() as conn:
            added = self._insert_ignore(conn, t.judgments, [asdict(judgment) for judgment in items])
            self._insert_use_rows(conn, uses)
            return added

    def add_judgment_uses(self, uses: Iterable[tuple[str, int, int | None]]) -> int:
        """Record pairings answered by judgments already stored (cache hits)."""
        with self.engine.begin() as conn:
            return self._insert_use_rows(conn, uses)

    def _insert_use_rows(self, conn: Connection, uses: Iterable[tuple[str, int, int | None]]) -> int:
        rows = [
            {"use_key": content_hash([key, a, b]), "cache_key": key, "generation_a": a, "generation_b": b} for key, a, b in uses
        ]
        return self._insert_ignore(conn, t.judgment_uses, rows)

    def judgments(self, judge_kind: str | None = None) -> pd.DataFrame:
        query = select(t.judgments)
        if judge_kind is not None:
            query = query.where(t.judgments.c.judge_kind == judge_kind)
        return self.frame(query.order_by(t.judgments.c.id))

    # ---- decisions ------------------------------------------------------------------------------

    def add_decision(self, decision: Decision, chosen_model_id: int | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.decisions),
                [
                    {
                        "run": decision.run,
                        "chosen_model_id": chosen_model_id,
                        "chosen_name": decision.chosen_model,
                        "epoch": decision.epoch,
                        "policy": decision.policy,
                        "evidence": decision.evidence,
                    }
                ],
            )

    def decisions(self, run: str | None = None) -> pd.DataFrame:
        query = select(t.decisions)
        if run is not None:
            query = query.where(t.decisions.c.run == run)
        return self.frame(query.order_by(t.decisions.c.id))
