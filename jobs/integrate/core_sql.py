"""The integration core as DuckDB SQL over Arrow: observations, survivorship, base rows, conflicts.

The same rules as :mod:`~jobs.integrate.observations`, :mod:`~jobs.integrate.survivorship` and
:mod:`~jobs.integrate.conflicts`, generated from the same configuration, by the same plan, as
queries over one table of *statement rows*: one row per (pool row, subject) with the subject's
key and the row's statements about it, not yet exploded (``statements``: element, normalised
value, pool field), and its lineage; rows whose ``resource`` is ``member:<base>`` only say
that their key is a member of that base. :func:`core_on_statements` runs the queries on such a
table and returns the four core tables (:data:`CORE_TABLES`), column for column as the Spark
core writes them.

All the statements about one key must be in one table: Spark shuffles the statement rows by
key and runs this on each partition (:mod:`jobs.integrate.core`, which the build runs; measured
at 0.97-1.25× the DuckDB reference at a million persons, against 2.2-2.8× for the Spark
survivorship it replaced).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from jobs.integrate.config import BaseSpec, IntegrationConfig
from jobs.integrate.conflicts import conflict_elements
from jobs.integrate.corrections import CORRECTION_SOURCE
from jobs.integrate.survivorship import (
    BY_AGREEMENT,
    BY_AUTHORITY,
    BY_FREQUENCY,
    BY_RECENCY,
    BY_TIE_BREAK,
    KEY_COLUMNS,
    PROVENANCE_FIELDS,
    authority_triples,
)

#: The statement rows the queries read (``observations.statement_rows`` as Arrow, with the
#: member and correction rows): one row per (pool row, subject), its statements not exploded.
STATEMENT_ROWS_SCHEMA = pa.schema(
    [
        ("key_kind", pa.string()),
        ("key", pa.string()),
        (
            "statements",
            pa.list_(
                pa.struct(
                    [("element", pa.string()), ("value", pa.string()), ("field", pa.string())]
                )
            ),
        ),
        ("department", pa.string()),
        ("resource", pa.string()),
        ("record_key", pa.string()),
        ("batch_id", pa.string()),
        ("observed_at", pa.timestamp("us", tz="UTC")),
        ("source_file", pa.string()),
        ("row_number", pa.int64()),
    ]
)

#: The statement rows as Spark ships them to its tasks: the statements as JSON text. Spark's
#: Arrow writer turns an array of structs into Arrow at a third of the speed of the same
#: statements as one text (at a million persons, 5.9M rows: 31 s against 19 s, measured;
#: without the statements 12 s), and DuckDB reads the JSON back on the task's side.
SHIPPED_STATEMENT_ROWS_SCHEMA = STATEMENT_ROWS_SCHEMA.set(
    STATEMENT_ROWS_SCHEMA.get_field_index("statements"), pa.field("statements", pa.string())
)
#: ``from_json``'s type of the shipped statements: the statements' struct, every field text.
_STATEMENTS_JSON_TYPE = json.dumps(
    [{f.name: "VARCHAR" for f in STATEMENT_ROWS_SCHEMA.field("statements").type.value_type}]
)

#: The bases whose rows the core makes (members with their surviving attributes).
CORE_BASES = ("population", "legal_entity")
#: The core's tables, in the order the queries make them.
CORE_TABLES = ("attribute_values", *CORE_BASES, "conflicts")


def sql_typed(value: str, storage: str) -> str:
    """An attribute's text value back in its storage type (``survivorship.typed_value``)."""
    if storage == "date":
        return f"CAST(try_strptime({value}, '%Y-%m-%d') AS DATE)"
    if storage == "timestamp":
        return f"CAST(try_strptime({value}, '%Y-%m-%dT%H:%M:%S') AS TIMESTAMPTZ)"
    if storage == "string":
        return value
    return f"TRY_CAST({value} AS {storage.upper()})"


def sql_list(items: list[str]) -> str:
    """SQL text literals for an ``IN (…)`` list; one empty text when there are none."""
    return ", ".join(f"'{item}'" for item in items) or "''"


_PROVENANCE = ", ".join(PROVENANCE_FIELDS)
_PROVENANCE_STRUCT = "{" + ", ".join(f"'{name}': {name}" for name in PROVENANCE_FIELDS) + "}"
_RANKED_PROVENANCE = ", ".join(f"ranked[1].source.{name} AS {name}" for name in PROVENANCE_FIELDS)

#: ``attribute_values`` as the Spark core writes it, by the same plan
#: (``survivorship.attribute_values``): one window over the observations settles the attributes
#: whose observations all state one value (credited to the first statement in credit order) and
#: picks out the observations of the others, which go through survivorship's three steps
#: (current statements, candidates, ranking).
ATTRIBUTE_VALUES_SQL = f"""
CREATE OR REPLACE TEMP TABLE attribute_values AS
WITH summarised AS (
    SELECT *,
           min(value) OVER attribute = max(value) OVER attribute AS agreed,
           count(DISTINCT resource) OVER attribute AS n_sources,
           row_number() OVER (
               PARTITION BY key_kind, key, element
               ORDER BY is_authority DESC, observed_at DESC, batch_id DESC, resource DESC,
                        source_file DESC, row_number DESC
           ) AS credit_rank
    FROM observations
    WINDOW attribute AS (PARTITION BY key_kind, key, element)
    QUALIFY credit_rank = 1 OR NOT agreed
),
statements AS (
    SELECT * FROM summarised WHERE NOT agreed
    QUALIFY row_number() OVER (
        PARTITION BY key_kind, key, element, resource, record_key
        ORDER BY observed_at DESC, batch_id DESC, source_file DESC, row_number DESC, value
    ) = 1
),
candidates AS (
    SELECT key_kind, key, element, value,
           bool_or(is_authority) AS is_authority,
           max(observed_at) AS latest_at,
           len(list_distinct(list(resource))) AS n_sources,
           list_sort(list_distinct(list(department))) AS departments,
           list_sort(list_distinct(list(resource))) AS resources,
           arg_max(
               {_PROVENANCE_STRUCT},
               {{'a': is_authority, 'o': observed_at, 'b': batch_id, 'r': resource,
                 'f': source_file, 'n': row_number}}
           ) AS source
    FROM statements GROUP BY ALL
),
ranked AS (
    SELECT key_kind, key, element,
           list_sort(list({{'r_authority': NOT is_authority, 'r_recency': -epoch_us(latest_at),
                            'r_frequency': -n_sources, 'value': value,
                            'is_authority': is_authority, 'latest_at': latest_at,
                            'n_sources': n_sources, 'departments': departments,
                            'resources': resources, 'source': source}})) AS ranked,
           sum(n_sources) AS n_sources
    FROM candidates GROUP BY ALL
)
SELECT key_kind, key, element, value, {_PROVENANCE},
       '{BY_AGREEMENT}' AS survived_by,
       CAST(n_sources AS BIGINT) AS n_sources,
       CAST(1 AS INTEGER) AS n_values,
       CAST([] AS STRUCT(value VARCHAR, departments VARCHAR[], resources VARCHAR[],
                         observed_at TIMESTAMPTZ)[]) AS losing_values,
       CAST([] AS VARCHAR[]) AS dissenting_departments
FROM summarised WHERE agreed
UNION ALL
SELECT key_kind, key, element,
       ranked[1].value AS value,
       {_RANKED_PROVENANCE},
       CASE WHEN len(ranked) = 1 THEN '{BY_AGREEMENT}'
            WHEN ranked[1].is_authority AND NOT ranked[2].is_authority THEN '{BY_AUTHORITY}'
            WHEN ranked[1].latest_at > ranked[2].latest_at THEN '{BY_RECENCY}'
            WHEN ranked[1].n_sources > ranked[2].n_sources THEN '{BY_FREQUENCY}'
            ELSE '{BY_TIE_BREAK}' END AS survived_by,
       CAST(n_sources AS BIGINT) AS n_sources,
       CAST(len(ranked) AS INTEGER) AS n_values,
       list_transform(ranked[2:], lambda c: {{'value': c.value, 'departments': c.departments,
                                             'resources': c.resources,
                                             'observed_at': c.latest_at}}) AS losing_values,
       list_sort(list_distinct(flatten(list_transform(ranked[2:], lambda c: c.departments))))
           AS dissenting_departments
FROM ranked
"""


def conflicts_sql(config: IntegrationConfig) -> str:
    """``conflicts.value_conflicts`` as DuckDB SQL: the issue rows of attributes in conflict."""
    base_of = " ".join(
        f"WHEN '{spec.key_kind}' THEN '{spec.table}'" for spec in config.bases.values()
    )
    return f"""
    CREATE OR REPLACE TEMP TABLE conflicts AS
    WITH shaped AS (
        SELECT substr(sha256('conflict|' || element || '|' || key_kind || '|' || key), 1, 24)
                   AS issue_id,
               'conflict' AS issue_type,
               CAST(NULL AS VARCHAR) AS rule,
               element, key_kind, key,
               CASE key_kind {base_of} END AS base,
               [key] AS base_keys,
               list_sort(list_distinct(dissenting_departments)) AS departments,
               list_sort(list_distinct(flatten(list_transform(losing_values, lambda v: v.resources))))
                   AS resources,
               value AS surviving_value,
               department AS surviving_department,
               list_concat(
                   [{{'value': value, 'departments': [department], 'resources': [resource],
                      'observed_at': observed_at}}],
                   losing_values
               ) AS observed_values,
               element || ': ' || value || ' (' || resource || ', ' || survived_by || ') vs '
                   || array_to_string(list_transform(losing_values,
                          lambda v: v.value || ' (' || array_to_string(v.resources, ',') || ')'), '; ')
                   AS detail
        FROM attribute_values
        WHERE n_values > 1 AND key_kind || '|' || element IN ({sql_list(conflict_elements(config))})
    )
    SELECT *,
           substr(sha256(CAST(to_json({{
               'surviving_value': surviving_value,
               'values': list_transform(observed_values, lambda v: {{'v': v.value, 'd': v.departments}}),
               'departments': departments,
               'base_keys': base_keys
           }}) AS VARCHAR)), 1, 16) AS values_hash
    FROM shaped
    """


def base_rows_sql(name: str, spec: BaseSpec, members: str) -> str:
    """``survivorship.base_rows`` as DuckDB SQL: the ``members`` (a query of their keys) with
    their surviving attributes, each typed, with its provenance."""
    pivoted = [a for a in spec.attributes if not a.derived]
    provenance = (
        "{'department': department, 'resource': resource, 'batch_id': batch_id, "
        "'observed_at': observed_at, 'survived_by': survived_by, 'n_values': n_values}"
    )
    columns = [
        sql_typed(f"max(value) FILTER (WHERE element = '{a.element}')", a.type) + f" AS {a.column}"
        for a in pivoted
    ] + [
        f"max({provenance}) FILTER (WHERE element = '{a.element}') AS {a.column}_provenance"
        for a in pivoted
    ]
    return f"""
    CREATE OR REPLACE TEMP TABLE {name} AS
    SELECT m.key AS {KEY_COLUMNS[spec.key_kind]}, v.* EXCLUDE (key)
    FROM ({members}) m
    LEFT JOIN (SELECT key, {", ".join(columns)} FROM attribute_values
               WHERE key_kind = '{spec.key_kind}' GROUP BY key) v USING (key)
    """


#: ``resource`` of the rows that only say a key is a member of a base (``member:population``).
MEMBER_PREFIX = "member:"


def observations_from_statements_sql(config: IntegrationConfig) -> str:
    """The observations of a task's statement rows (the member rows state nothing).

    A row whose ``source_file`` is ``verification`` is a correction a department made answering
    a ticket (``corrections.correction_observations``): it is observed once per record of that
    department stating the element for the key, in that record's resource and field, replacing
    its statement there; once under its own resource when no record states it.
    """
    authority = sql_list(authority_triples(config))
    return f"""
    CREATE OR REPLACE TEMP TABLE observations AS
    WITH said AS (
        SELECT key_kind, key, s.element AS element, s.value AS value, department, resource,
               s.field AS field, record_key, batch_id, observed_at, source_file, row_number
        FROM (SELECT *, unnest(statements) AS s FROM statement_rows
              WHERE NOT starts_with(resource, '{MEMBER_PREFIX}'))
        WHERE s.value IS NOT NULL
    ),
    stated AS (SELECT * FROM said WHERE source_file IS DISTINCT FROM '{CORRECTION_SOURCE}'),
    corrected AS (SELECT * FROM said WHERE source_file = '{CORRECTION_SOURCE}'),
    records AS (
        SELECT DISTINCT key_kind, key, element, department, resource, field, record_key
        FROM stated SEMI JOIN corrected USING (key_kind, key, element, department)
    ),
    observed AS (
        SELECT * FROM stated
        UNION ALL
        SELECT c.key_kind, c.key, c.element, c.value, c.department,
               coalesce(r.resource, c.resource) AS resource,
               coalesce(r.field, c.element) AS field,
               coalesce(r.record_key, c.key) AS record_key,
               c.batch_id, c.observed_at, c.source_file, c.row_number
        FROM corrected c LEFT JOIN records r USING (key_kind, key, element, department)
    )
    SELECT *, key_kind || '|' || element || '|' || resource IN ({authority}) AS is_authority
    FROM observed
    """


def statement_members_sql(base: str) -> str:
    """The member keys of ``base`` in the statement rows."""
    return f"SELECT DISTINCT key FROM statement_rows WHERE resource = '{MEMBER_PREFIX}{base}'"


def statement_queries(
    config: IntegrationConfig, bases: Sequence[str] = CORE_BASES, *, conflicts: bool = True
) -> list[str]:
    """The queries that make, from a table ``statement_rows``, in order: ``observations``,
    ``attribute_values``, a table of rows per base in ``bases`` (named as the base) and, with
    ``conflicts``, ``conflicts`` — by default :data:`CORE_TABLES`."""
    return [
        observations_from_statements_sql(config),
        ATTRIBUTE_VALUES_SQL,
        *[base_rows_sql(name, config.bases[name], statement_members_sql(name)) for name in bases],
        *([conflicts_sql(config)] if conflicts else []),
    ]


#: How a table leaves the core when not as it is: the observations as
#: ``base/attribute_observations`` keeps them (the authority is survivorship's working column).
_OUTPUT_SQL = {"observations": "SELECT * EXCLUDE (is_authority) FROM observations"}


def core_on_statements(
    statement_rows: pa.Table,
    queries: Sequence[str],
    timezone: str,
    tables: Sequence[str] = CORE_TABLES,
) -> dict[str, pa.Table]:
    """``tables`` (made by ``queries``, :func:`statement_queries`) of the keys in
    ``statement_rows`` (:data:`STATEMENT_ROWS_SCHEMA`, or as shipped,
    :data:`SHIPPED_STATEMENT_ROWS_SCHEMA`).

    Runs on one thread: Spark runs one task per core, and DuckDB's own threads would compete
    with the other task. Batch times are read in ``timezone``, as Spark's session reads them.
    """
    with duckdb.connect() as con:
        con.execute("SET threads = 1")
        con.execute(f"SET TimeZone = '{timezone}'")
        if statement_rows.schema.field("statements").type == pa.string():
            con.register("shipped_statement_rows", statement_rows)
            con.execute(
                "CREATE TEMP VIEW statement_rows AS SELECT * REPLACE "
                f"(from_json(statements, '{_STATEMENTS_JSON_TYPE}') AS statements) "
                "FROM shipped_statement_rows"
            )
        else:
            con.register("statement_rows", statement_rows)
        for query in queries:
            con.execute(query)
        # Instants out in UTC, as Delta stores them (Arrow would carry the session's zone).
        con.execute("SET TimeZone = 'UTC'")
        return {
            name: con.sql(_OUTPUT_SQL.get(name, f"SELECT * FROM {name}")).to_arrow_table()
            for name in tables
        }
