"""``govlake keys check``: normalise and validate keys from a file, one answer per line.

A data engineer answering a verification ticket (校核) or a department checking a list before
delivery can run the same checks ingest runs, on a plain text file::

    govlake keys check --kind id ids.txt
    cut -d, -f3 hukou.csv | govlake keys check --kind id -

Each input line gives one output line, in order: the normalised key, or ``INVALID <reason>``
with the reason code of :mod:`jobs.standardize.keys`. The lines go through the very Column
expressions ingest uses (on the local Spark session), never a second implementation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TextIO

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.settings import Settings
from jobs.standardize.keys import KEY_KINDS

EXIT_OK = 0
EXIT_USAGE = 2

_LINES_SCHEMA = T.StructType(
    [
        T.StructField("line_number", T.LongType(), nullable=False),
        T.StructField("raw", T.StringType(), nullable=True),
    ]
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``keys check`` to the ``govlake`` command."""
    keys = subparsers.add_parser(
        "keys", help="normalise and validate keys (ID, USCC, parcel, unit)"
    )
    keys_commands = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND")
    keys.set_defaults(func=lambda _args: _usage(keys))
    check = keys_commands.add_parser(
        "check",
        help="print each line's normalised key or INVALID <reason>",
        description=(
            "Normalise and validate keys, one per line. Prints one line per input line, in "
            "order: the normalised key, or INVALID <reason>. Exit code 0 when the check ran, "
            "even if keys are invalid; 2 on usage errors."
        ),
    )
    check.add_argument(
        "--kind",
        required=True,
        choices=sorted(KEY_KINDS),
        help="; ".join(f"{kind.name}: {kind.description}" for kind in KEY_KINDS.values()),
    )
    check.add_argument("file", metavar="FILE", help="text file, one key per line; - for stdin")
    check.set_defaults(func=_check)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def check_lines(spark: SparkSession, lines: Iterable[str], kind: str) -> list[str]:
    """Checks ``lines`` as keys of ``kind``; returns one output line per input line, in order.

    Each output is the normalised key or ``INVALID <reason>``. The row index keeps the input
    order whatever partitioning Spark chooses.
    """
    key_kind = KEY_KINDS[kind]
    lines_df = spark.createDataFrame(list(enumerate(lines)), schema=_LINES_SCHEMA)
    raw = F.col("raw")
    problem = key_kind.problem(raw)
    answers_df = lines_df.select(
        "line_number",
        F.when(problem.isNull(), key_kind.normalize(raw))
        .otherwise(F.concat(F.lit("INVALID "), problem))
        .alias("answer"),
    )
    return [row.answer for row in answers_df.orderBy("line_number").collect()]


def _read_lines(stream: TextIO) -> list[str]:
    # Only the line break goes; every other character is the key as delivered (normalisation
    # decides what whitespace means).
    return [line.rstrip("\r\n") for line in stream]


def _check(args: argparse.Namespace) -> int:
    try:
        if args.file == "-":
            lines = _read_lines(sys.stdin)
        else:
            with open(args.file, encoding="utf-8-sig") as stream:
                lines = _read_lines(stream)
    except (OSError, UnicodeDecodeError) as error:
        print(f"govlake keys check: cannot read {args.file}: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not lines:
        return EXIT_OK
    from jobs.spark import get_spark  # pyspark: loaded when a check runs, not with the CLI

    spark = get_spark(Settings.from_env(), app_name="govlake-keys-check")
    for answer in check_lines(spark, lines, args.kind):
        print(answer)
    return EXIT_OK
