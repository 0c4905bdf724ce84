"""The defect vocabulary: every kind of damage the synthetic city injects, and what the pipeline
is expected to make of it.

Each kind has a level (``row``: one value of one row; ``world``: a state of the world that the
departments report inconsistently, rendered as rows; ``file``: a whole delivered file or batch),
the expected ``outcome`` (see :data:`OUTCOMES`), and what that outcome is about: a quarantine or
normalisation ``reason`` code, the data ``element`` of a conflict, or the ``rule`` of a logical
anomaly. The reason codes of key problems are the ones :mod:`jobs.standardize.keys` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Expected outcomes, the vocabulary of the manifest's ``outcome`` column.
ACCEPTED = "accepted"  # loaded as is (a drifted column name that is a declared synonym)
NORMALISED = "accepted_after_normalisation"  # loaded after normalising; never quarantined
QUARANTINED = "quarantined"  # the row goes to quarantine with ``reason``
FILE_QUARANTINED = "file_quarantined"  # the whole file goes to quarantine with ``reason``
BATCH_HELD = "batch_held"  # the batch is held with a message naming ``field``'s column
EXTRA_COLUMN = "extra_column_reported"  # the batch loads; the unknown column is reported
DUPLICATE = "duplicate_dropped"  # the row (or the whole re-delivered file) is dropped, counted
CONFLICT = "conflict"  # a cross-source conflict on ``element``; ticket to ``ticket_department``
ANOMALY = "anomaly"  # a logical anomaly ``rule``; ticket to ``ticket_department``
OUTCOMES = (
    ACCEPTED,
    NORMALISED,
    QUARANTINED,
    FILE_QUARANTINED,
    BATCH_HELD,
    EXTRA_COLUMN,
    DUPLICATE,
    CONFLICT,
    ANOMALY,
)


@dataclass(frozen=True)
class Kind:
    """One kind of defect.

    ``weight`` scales the base defect rate for row- and world-level kinds (a world-level kind
    applies to a small eligible set, e.g. persons who died before the first delivery, so its
    weight is higher); file-level kinds use it per delivered file.
    """

    name: str
    level: str
    outcome: str
    reason: str = ""
    element: str = ""
    rule: str = ""
    weight: float = 1.0
    description: str = ""


_KINDS = (
    # --- keys --------------------------------------------------------------------------------
    Kind("id_wrong_check_char", "row", QUARANTINED, reason="bad_check_character",
         description="citizen ID whose MOD 11-2 check character is wrong"),
    Kind("id_15_digit", "row", NORMALISED, reason="upgraded_15_digit",
         description="pre-1999 15-digit citizen ID; upgrade by inserting 19 and the check"),
    Kind("id_lowercase_x", "row", NORMALISED, reason="lowercase_x", weight=4.0,
         description="citizen ID ending in a lowercase x"),
    Kind("key_fullwidth", "row", NORMALISED, reason="fullwidth_characters",
         description="key typed with full-width digits and letters (０-９, Ａ-Ｚ)"),
    Kind("key_whitespace", "row", NORMALISED, reason="whitespace",
         description="key with stray spaces or tabs around it"),
    Kind("id_excel_damage", "row", QUARANTINED, reason="excel_damaged",
         description="citizen ID mangled by Excel: 4.10105E+17 or the last digits turned to 000"),
    Kind("uscc_wrong_check_char", "row", QUARANTINED, reason="bad_check_character",
         description="USCC whose MOD 31 check character is wrong"),
    Kind("uscc_wrong_org_code_check", "row", QUARANTINED, reason="bad_organization_code",
         weight=0.5,
         description="USCC whose GB 11714 organisation-code check is wrong (MOD 31 recomputed)"),
    Kind("missing_key", "row", QUARANTINED, reason="missing",
         description="the resource's key is empty"),
    Kind("duplicate_row", "row", DUPLICATE, reason="duplicate_row",
         description="an exact copy of an earlier row of the same file"),
    # --- values ------------------------------------------------------------------------------
    Kind("name_homophone", "row", CONFLICT, element="person_name",
         description="a given-name character replaced by a homophone (同音字)"),
    Kind("name_conflict", "row", CONFLICT, element="person_name", weight=0.5,
         description="a different name for the same ID"),
    Kind("birth_date_conflict", "row", CONFLICT, element="birth_date", weight=0.5,
         description="a different birth date than the authority (and than the ID)"),
    Kind("gender_conflict", "row", CONFLICT, element="gender", weight=0.5,
         description="a different gender than the authority (and than the ID)"),
    Kind("marital_status_conflict", "row", CONFLICT, element="marital_status", weight=0.5,
         description="a marital status that contradicts the marriage registry"),
    Kind("entity_name_conflict", "row", CONFLICT, element="entity_name", weight=3.0,
         description="a different enterprise name than market regulation's"),
    Kind("legal_rep_conflict", "row", CONFLICT, element="legal_representative_name", weight=3.0,
         description="a different legal representative than market regulation's"),
    Kind("birth_date_id_mismatch", "row", ANOMALY, rule="birth_date_id_mismatch", weight=0.5,
         description="the authority's birth date disagrees with the birth date inside the ID"),
    Kind("gender_id_mismatch", "row", ANOMALY, rule="gender_id_mismatch", weight=0.5,
         description="the authority's gender disagrees with the parity of the ID's 17th digit"),
    Kind("address_variant", "row", NORMALISED, reason="address_variant",
         description="the address written in a changed, non-standard form (no province and "
         "city, Chinese numerals, full-width digits); normalises to the standard address"),
    Kind("licence_expired", "row", ANOMALY, rule="licence_expired", weight=3.0,
         description="a licence whose validity ended before the batch but whose status is valid"),
    Kind("parcel_invalid_geometry", "row", ANOMALY, rule="parcel_invalid_geometry", weight=3.0,
         description="a self-intersecting (bow-tie) parcel boundary"),
    Kind("parcel_outside_jurisdiction", "row", ANOMALY, rule="parcel_outside_jurisdiction",
         weight=3.0, description="a parcel lying outside the jurisdiction"),
    Kind("parcel_overlap", "row", ANOMALY, rule="parcel_overlap", weight=3.0,
         description="a parcel stretched over its neighbour (named in detail)"),
    # --- world -------------------------------------------------------------------------------
    Kind("deceased_still_insured", "world", ANOMALY, rule="deceased_still_insured", weight=50.0,
         description="a person who died before the batch still has active social insurance"),
    Kind("deceased_holds_licence", "world", ANOMALY, rule="deceased_holds_valid_licence",
         weight=50.0, description="a person who died still holds a valid driving licence"),
    Kind("deceased_married", "world", ANOMALY, rule="deceased_married", weight=50.0,
         description="a marriage registered after one party's death"),
    Kind("deregistered_active_at_tax", "world", ANOMALY, rule="deregistered_but_active_at_tax",
         weight=50.0,
         description="an enterprise deregistered at market regulation but normal at tax"),
    Kind("legal_rep_not_in_population", "world", ANOMALY,
         rule="legal_representative_not_in_population", weight=3.0,
         description="the legal representative's ID is valid but not in the population base"),
    Kind("licence_holder_not_in_population", "world", ANOMALY,
         rule="licence_holder_not_in_population", weight=1.0,
         description="a licence or certificate holder's ID is valid but not in the population "
         "base"),
    Kind("licence_holder_not_in_legal_entity", "world", ANOMALY,
         rule="licence_holder_not_in_legal_entity", weight=3.0,
         description="a business licence whose USCC is not in the legal-entity base"),
    # --- files -------------------------------------------------------------------------------
    Kind("wrong_encoding", "file", NORMALISED, reason="encoding_mismatch",
         description="the file is not in its declared encoding (GBK declared, UTF-8 delivered "
         "or the reverse); detected and read, not quarantined"),
    Kind("truncated_file", "file", FILE_QUARANTINED, reason="truncated_file",
         description="the file is cut off mid-row; re-delivered whole in a later batch"),
    Kind("empty_file", "file", FILE_QUARANTINED, reason="empty_file",
         description="a zero-byte file; re-delivered in a later batch"),
    Kind("duplicate_batch", "file", DUPLICATE, reason="duplicate_file",
         description="the same batch delivered twice: a byte-identical copy under a later id"),
    Kind("column_renamed_synonym", "file", ACCEPTED, reason="column_synonym",
         description="a required field's column delivered under a declared synonym"),
    Kind("column_renamed_unknown_optional", "file", EXTRA_COLUMN, reason="unknown_column",
         description="an optional field's column delivered under an undeclared name"),
    Kind("column_renamed_unknown_required", "file", BATCH_HELD, reason="missing_required_column",
         description="a required field's column delivered under an undeclared name; the "
         "batch is re-delivered with the right header later"),
)  # fmt: skip

#: Every defect kind by name.
KINDS: dict[str, Kind] = {kind.name: kind for kind in _KINDS}
