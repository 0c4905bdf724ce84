"""The pool's ``content_hash`` over Arrow: byte for byte what Spark's
``sha2(to_json(struct(<fields>)), 256)`` gives (:func:`jobs.ingest.pool.with_content_hash`).

Duplicates are found across batches whichever runner promoted them, so both must write the same
hash. The JSON is built the way Spark's Jackson generator writes it: fields in catalog order,
NULL fields left out, strings escaped (``"``, ``\\``, control characters; everything else
as is), dates ``yyyy-MM-dd``, instants ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX`` in the session time zone
(an offset with seconds, ``+08:05:43``, before 1901 in Shanghai), decimals with their scale,
doubles as Java's ``Double.toString`` (``1.0E7``, ``1.0E-4``, ``123.45``). Each value's text is
made over Arrow (numpy for fixed layouts); DuckDB joins them into the objects and hashes them in
one vectorised query (pyarrow has no hash kernel, and its element-wise join of many columns
cost more than the rules).

Known limit: Java 17's ``Double.toString`` is not always the shortest representation (``1.0E23``
prints ``9.999999999999999E22``); this module writes the shortest one, so such a double (none a
delivery gives in practice: they come from short decimal texts) would hash differently.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize.arrow_dates import civil_of
from jobs.standardize.arrow_values import rows_with_bytes

_MICROS_PER_DAY = 86_400_000_000
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
#: The bytes a JSON string escapes: control characters, the quote and the backslash.
_NEEDS_ESCAPE = np.zeros(256, bool)
_NEEDS_ESCAPE[:0x20] = True
_NEEDS_ESCAPE[[ord('"'), ord("\\")]] = True


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def json_escaped(values: pa.Array) -> pa.Array:
    """Strings escaped for a JSON string literal as Jackson escapes them (quotes not added)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    # One pass of numpy over the bytes, not a regular expression per string.
    marked = rows_with_bytes(values, _NEEDS_ESCAPE) & _valid(values)
    if not marked.any():
        return values
    needs = pa.array(marked)
    subset = values.filter(needs)
    subset = pc.replace_substring(subset, "\\", "\\\\")
    subset = pc.replace_substring(subset, '"', '\\"')
    for code in range(0x20):
        character = chr(code)
        escape = _SHORT_ESCAPES.get(character, f"\\u{code:04X}")
        subset = pc.replace_substring(subset, character, escape)
    return pc.replace_with_mask(values, needs, subset)


def _valid(values: pa.Array) -> np.ndarray:
    return pc.is_valid(values).to_numpy(zero_copy_only=False)


def _ascii_digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative numbers, as a ``len × width`` byte matrix."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(numbers, np.int64)[:, None] // powers % 10 + 48).astype(np.uint8)


def _strings_of_bytes(matrix: np.ndarray, lengths: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Row ``i`` of the byte matrix, its first ``lengths[i]`` bytes, as a string (NULL where
    not ``valid``): fixed-layout text built without a kernel per piece."""
    lengths = np.where(valid, lengths, 0)
    used = np.arange(matrix.shape[1])[None, :] < lengths[:, None]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    data = np.ascontiguousarray(matrix[used])
    validity = pa.array(valid).buffers()[1] if not valid.all() else None
    return pa.StringArray.from_buffers(
        len(lengths), pa.py_buffer(offsets), pa.py_buffer(data), validity, int((~valid).sum())
    )


def json_date(values: pa.Array) -> pa.Array:
    """date32 → ``yyyy-MM-dd`` (years 1 to 9999: what the pool stores)."""
    return pc.cast(values, pa.string())


def json_timestamp(values: pa.Array, timezone: str) -> pa.Array:
    """timestamp → ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX`` in ``timezone``, as Spark writes it."""
    utc = values.cast(pa.timestamp("us", tz="UTC"))
    valid = _valid(utc)
    micros = utc.cast(pa.int64()).fill_null(0).to_numpy()
    wall = pc.local_timestamp(utc.fill_null(0).cast(pa.timestamp("us", tz=timezone)))
    wall_micros = wall.cast(pa.int64()).to_numpy()
    days, in_day = np.divmod(wall_micros, _MICROS_PER_DAY)
    year, month, day = civil_of(days)
    seconds, micro = np.divmod(in_day, 1_000_000)
    hour, rest = np.divmod(seconds, 3600)
    minute, second = np.divmod(rest, 60)
    offset = (wall_micros - micros) // 1_000_000
    offset_hours, offset_rest = np.divmod(np.abs(offset), 3600)
    offset_minutes, offset_seconds = np.divmod(offset_rest, 60)
    n = len(values)
    matrix = np.zeros((n, 32), np.uint8)
    literal = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 26: ":", 29: ":"}
    for position, character in literal.items():
        matrix[:, position] = ord(character)
    for position, numbers, width in (
        (0, year, 4),
        (5, month, 2),
        (8, day, 2),
        (11, hour, 2),
        (14, minute, 2),
        (17, second, 2),
        (20, micro // 1000, 3),
        (24, offset_hours, 2),
        (27, offset_minutes, 2),
        (30, offset_seconds, 2),
    ):
        matrix[:, position : position + width] = _ascii_digits(numbers, width)
    matrix[:, 23] = np.where(offset < 0, ord("-"), np.where(offset == 0, ord("Z"), ord("+")))
    # XXX: Z for UTC, +08:00, and +08:05:43 when the offset has seconds (local mean time).
    lengths = np.where(offset == 0, 24, np.where(offset_seconds != 0, 32, 29))
    return _strings_of_bytes(matrix, lengths, valid)


def json_double(values: pa.Array) -> pa.Array:
    """Finite doubles as Java's ``Double.toString``: plain from 10⁻³ up to 10⁷ (``100.0``,
    ``0.001``), else ``d.dddE±n`` (``1.0E7``, ``9.999999E-4``); shortest digits."""
    text = pc.cast(values, pa.string())
    parts = pc.extract_regex(
        text, r"^(?P<sign>-?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?(?:e(?P<exp>[+-]?[0-9]+))?$"
    )
    whole, fraction = pc.struct_field(parts, "int"), pc.struct_field(parts, "frac")
    exponent_text = pc.utf8_ltrim(pc.struct_field(parts, "exp"), "+")
    exponent = pc.cast(pc.if_else(pc.equal(exponent_text, ""), "0", exponent_text), pa.int64())
    all_digits = _join(whole, fraction)
    significant = pc.utf8_rtrim(pc.utf8_ltrim(all_digits, "0"), "0")
    leading_zeros = pc.subtract(
        pc.utf8_length(all_digits), pc.utf8_length(pc.utf8_ltrim(all_digits, "0"))
    )
    # The power of ten of the first significant digit.
    power = pc.add(pc.subtract(pc.subtract(pc.utf8_length(whole), 1), leading_zeros), exponent)
    power_np = pc.fill_null(power, 0).to_numpy(zero_copy_only=False)
    is_zero = pc.fill_null(pc.equal(significant, ""), False).to_numpy(zero_copy_only=False)
    out = pa.nulls(len(values), pa.string())
    for p in np.unique(power_np[~is_zero]) if (~is_zero).any() else []:
        rows = pa.array((power_np == p) & ~is_zero)
        digits = significant.filter(rows)
        if -3 <= p < 7:
            if p >= 0:
                head = pc.utf8_rpad(pc.utf8_slice_codeunits(digits, 0, p + 1), p + 1, "0")
                tail = pc.utf8_slice_codeunits(digits, p + 1, 10**6)
                tail = pc.if_else(pc.equal(tail, ""), "0", tail)
                formatted = _join(head, ".", tail)
            else:
                formatted = _join("0.", "0" * (-p - 1), digits)
        else:
            tail = pc.utf8_slice_codeunits(digits, 1, 10**6)
            tail = pc.if_else(pc.equal(tail, ""), "0", tail)
            formatted = _join(pc.utf8_slice_codeunits(digits, 0, 1), ".", tail, f"E{p}")
        out = pc.replace_with_mask(out, rows, formatted)
    out = pc.if_else(pa.array(is_zero), "0.0", out)
    return _join(pc.struct_field(parts, "sign"), out)


def json_member(values: pa.Array, timezone: str) -> tuple[pa.Array, bool]:
    """A pool value as the text ``to_json`` writes for it (NULL stays NULL), and whether the
    text goes between quotes (strings, dates, instants)."""
    kind = values.type
    if pa.types.is_string(kind):
        return json_escaped(values), True
    if pa.types.is_date32(kind):
        return json_date(values), True
    if pa.types.is_timestamp(kind):
        return json_timestamp(values, timezone), True
    if pa.types.is_floating(kind):
        return json_double(values), False
    if pa.types.is_boolean(kind):
        return pc.if_else(values, "true", "false"), False
    return pc.cast(values, pa.string()), False  # integers and decimals (scale kept: 1.5000)


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_sql(columns: dict[str, pa.Array], timezone: str) -> tuple[str, pa.Table]:
    """The DuckDB expression of the rows' JSON objects and the table it reads."""
    texts, members = {}, []
    for i, (name, values) in enumerate(columns.items()):
        text, quoted = json_member(values, timezone)
        texts[f"c{i}"] = text
        key = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '":'
        quote = '"' if quoted else ""
        # one concat() per member instead of a chain of ||, each making a string: the hashes
        # of 131,072 hukou rows 0.44 → 0.37 CPU-s. concat() skips a NULL: the CASE keeps it.
        close = f", {_sql_text(quote)}" if quoted else ""
        members.append(
            f"CASE WHEN c{i} IS NULL THEN NULL "
            f"ELSE concat({_sql_text(key + quote)}, c{i}{close}) END"
        )
    # concat_ws leaves out the NULL members, as to_json leaves out NULL fields.
    return f"concat('{{', concat_ws(',', {', '.join(members)}), '}}')", pa.table(texts)


def _query(sql_of_json: str, table: pa.Table) -> pa.Array:
    connection = duckdb.connect()
    try:
        connection.register("members", table)
        result = connection.sql(f"SELECT {sql_of_json} AS v FROM members").to_arrow_table()
    finally:
        connection.close()
    return result.column("v").combine_chunks().cast(pa.string())


def sha256_hexdigests(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-case hex SHA-256 of each string's UTF-8 bytes (``hashlib.sha256(v.encode())``),
    hashed by DuckDB on all cores instead of one Python call per row."""
    return _query("sha256(v)", pa.table({"v": texts}))


def json_objects(columns: dict[str, pa.Array], timezone: str) -> pa.Array:
    """Spark's ``to_json(struct(<columns>))``: one JSON object per row, NULL members left out."""
    return _query(*_json_sql(columns, timezone))


def content_hashes(columns: dict[str, pa.Array], timezone: str) -> pa.Array:
    """Spark's ``sha2(to_json(struct(<columns>)), 256)``: lower-case hex SHA-256 of the UTF-8
    JSON, built and hashed in one DuckDB query (vectorised, on all cores)."""
    sql_of_json, table = _json_sql(columns, timezone)
    return _query(f"sha256({sql_of_json})", table)
