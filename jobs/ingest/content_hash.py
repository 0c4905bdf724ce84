"""The pool's ``content_hash`` over Arrow: byte for byte what Spark's
``sha2(to_json(struct(<fields>)), 256)`` gives (:func:`jobs.ingest.pool.with_content_hash`).

Duplicates are found across batches whichever runner promoted them, so both must write the same
hash. The JSON is built the way Spark's Jackson generator writes it: fields in catalog order,
NULL fields left out, strings escaped (``"``, ``\\``, control characters; everything else
as is), dates ``yyyy-MM-dd``, instants ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX`` in the session time zone
(an offset with seconds, ``+08:05:43``, before 1901 in Shanghai), decimals with their scale,
doubles as Java's ``Double.toString`` (``1.0E7``, ``1.0E-4``, ``123.45``). SHA-256 runs in
DuckDB over the whole column (pyarrow has no hash kernel).

Known limit: Java 17's ``Double.toString`` is not always the shortest representation (``1.0E23``
prints ``9.999999999999999E22``); this module writes the shortest one, so such a double (none a
delivery gives in practice: they come from short decimal texts) would hash differently.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize.arrow_values import civil_of

_MICROS_PER_DAY = 86_400_000_000
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _padded(numbers: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def json_string(values: pa.Array) -> pa.Array:
    """Strings as JSON string literals, escaped as Jackson escapes them."""
    needs = pc.fill_null(pc.match_substring_regex(values, r'["\\\x00-\x1f]'), False)
    if pc.any(needs).as_py():
        subset = values.filter(needs)
        subset = pc.replace_substring(subset, "\\", "\\\\")
        subset = pc.replace_substring(subset, '"', '\\"')
        for code in range(0x20):
            character = chr(code)
            escape = _SHORT_ESCAPES.get(character, f"\\u{code:04X}")
            subset = pc.replace_substring(subset, character, escape)
        values = pc.replace_with_mask(values, needs, subset)
    return _join('"', values, '"')


def _valid(values: pa.Array) -> np.ndarray:
    return pc.is_valid(values).to_numpy(zero_copy_only=False)


def json_date(values: pa.Array) -> pa.Array:
    """date32 → ``"yyyy-MM-dd"`` (years 1 to 9999: what the pool stores)."""
    year, month, day = civil_of(values.cast(pa.int32()).fill_null(0).to_numpy())
    text = _join('"', _padded(year, 4), "-", _padded(month, 2), "-", _padded(day, 2), '"')
    return pc.if_else(pa.array(_valid(values)), text, pa.scalar(None, pa.string()))


def json_timestamp(values: pa.Array, timezone: str) -> pa.Array:
    """timestamp → ``"yyyy-MM-dd'T'HH:mm:ss.SSSXXX"`` in ``timezone``, as Spark writes it."""
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
    sign = np.where(offset < 0, "-", "+")
    offset_hours, offset_rest = np.divmod(np.abs(offset), 3600)
    offset_minutes, offset_seconds = np.divmod(offset_rest, 60)
    zone = _join(pa.array(sign), _padded(offset_hours, 2), ":", _padded(offset_minutes, 2))
    with_seconds = _join(zone, ":", _padded(offset_seconds, 2))
    zone = pc.if_else(pa.array(offset_seconds != 0), with_seconds, zone)
    zone = pc.if_else(pa.array(offset == 0), "Z", zone)
    text = _join(
        '"',
        _padded(year, 4),
        "-",
        _padded(month, 2),
        "-",
        _padded(day, 2),
        "T",
        _padded(hour, 2),
        ":",
        _padded(minute, 2),
        ":",
        _padded(second, 2),
        ".",
        _padded(micro // 1000, 3),
        zone,
        '"',
    )
    return pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def json_double(values: pa.Array) -> pa.Array:
    """Finite doubles as Java's ``Double.toString``: plain from 10⁻³ up to 10⁷ (``100.0``,
    ``0.001``), else ``d.dddE±n`` (``1.0E7``, ``9.999999E-4``); shortest digits."""
    text = pc.cast(values, pa.string())
    parts = pc.extract_regex(
        text, r"^(?P<sign>-?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?(?:e(?P<exp>[+-]?[0-9]+))?$"
    )
    whole, fraction = pc.struct_field(parts, "int"), pc.struct_field(parts, "frac")
    exponent_text = pc.struct_field(parts, "exp")
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


def json_value(values: pa.Array, timezone: str) -> pa.Array:
    """Any pool value as the JSON text Spark's ``to_json`` writes for it (NULL stays NULL)."""
    kind = values.type
    if pa.types.is_string(kind):
        return json_string(values)
    if pa.types.is_date32(kind):
        return json_date(values)
    if pa.types.is_timestamp(kind):
        return json_timestamp(values, timezone)
    if pa.types.is_floating(kind):
        return json_double(values)
    if pa.types.is_boolean(kind):
        return pc.if_else(values, "true", "false")
    return pc.cast(values, pa.string())  # integers and decimals (scale kept: 1.5000)


def json_objects(columns: dict[str, pa.Array], timezone: str) -> pa.Array:
    """One JSON object per row of ``columns`` (name → values), NULL members left out."""
    members = [
        pc.fill_null(_join(",", _member_name(name), json_value(values, timezone)), "")
        for name, values in columns.items()
    ]
    # Each member leads with its comma; the first one's is dropped. (binary_join_element_wise
    # with null_handling="skip" loses rows whose members are all NULL in pyarrow 26.)
    body = pc.utf8_slice_codeunits(_join(*members) if len(members) > 1 else members[0], 1)
    return _join("{", body, "}")


def _member_name(name: str) -> str:
    return json_string(pa.array([name], pa.string()))[0].as_py() + ":"


def sha256_hex(texts: pa.Array) -> pa.Array:
    """Lower-case hex SHA-256 of each string's UTF-8 bytes (Spark's ``sha2(…, 256)``)."""
    connection = duckdb.connect()
    try:
        connection.register("payload", pa.table({"text": texts}))
        hashed = connection.sql("SELECT sha256(text) AS h FROM payload").to_arrow_table()
    finally:
        connection.close()
    return hashed.column("h").combine_chunks().cast(pa.string())


def content_hashes(columns: dict[str, pa.Array], timezone: str) -> pa.Array:
    """Spark's ``sha2(to_json(struct(<columns>)), 256)``."""
    return sha256_hex(json_objects(columns, timezone))
