"""Fingerprints of the open findings: a full data-quality run merges only what it found different (issue 22).

At 1,000,000 events a full run reports about 87,000 findings, nearly all of them open already and unchanged. Reading
the open findings back and comparing them one by one was a third of the run. So each rule's findings are split into
BUCKETS cells by a hash of their identity (dashboard_findings.bucket), and each cell has a fingerprint: the number of
its open findings and a digest of their identities and of everything a run would rewrite (severity, detail, day, event
number, store, CORE and Supervisor refs), stored by the run that last merged the cell (dashboard_rule_fingerprints,
migration 0025). A full run computes the fingerprints of what it found and merges finding by finding only the cells
whose fingerprint differs from the stored one: after 100 changed events a few hundred cells of several thousand,
after none, nothing. Every cell of every rule a run judges is stored, empty ones included, so a finding that appears
where the rule finds nothing is noticed too.

A stored fingerprint is only trusted while nothing else touched its cell: triggers on dashboard_findings delete it when
any program (an incremental run, a partial run, SQL by hand) inserts, deletes or rewrites one of its findings, and every
fingerprint of the rule when a finding has no bucket (written by another program, or before migration 0025). A run
writes the fingerprints of the cells it merged after its own writes, in the same transaction.
"""
from __future__ import annotations

import hashlib
import marshal
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, insert, text

from services.quality.rules import Finding
from services.store.tables import RuleFingerprint

BUCKETS = 256  # cells per rule: at 1,000,000 events the largest rule's cells hold about 80 findings each


class Fingerprint(NamedTuple):
    findings: int
    digest: str


Cell = tuple[str, int]  # (rule, bucket)

_MARSHAL_VERSION = 2  # before version 3's back-references: no table of every object written, a quarter faster here


def _digest(rows: list) -> str:
    return hashlib.blake2b(marshal.dumps(rows, _MARSHAL_VERSION), digest_size=16).hexdigest()


NO_FINDINGS = Fingerprint(0, _digest([]))


def bucket_of(identity: str) -> int:
    """The cell of a finding's identity among its rule's BUCKETS: CRC-32, the same in every process and version."""
    return zlib.crc32(identity.encode()) % BUCKETS


@dataclass(frozen=True)
class Fingerprints:
    cells: dict[Cell, Fingerprint]  # every cell of the rules fingerprinted, empty ones included
    buckets: dict[str, int]  # identity -> its bucket, for each finding fingerprinted


def fingerprints_of(current: Mapping[str, Finding], rules: Iterable[str]) -> Fingerprints:
    """The fingerprint of every cell of `rules` from a run's findings by identity. In a cell each finding is a tuple
    of its identity and what a run would rewrite, the tuples sorted by identity (so the order the rules' queries return
    rows in does not matter) and serialised by marshal: an unambiguous encoding of strings, numbers and None, whatever
    characters a name from Crossmark holds, at a sixth of the cost of formatting text (the severity as its text:
    marshal writes no str subclass; the day as its ordinal)."""
    rows: dict[Cell, list[tuple]] = defaultdict(list)
    buckets: dict[str, int] = {}
    # Unpacked, not read by attribute (a named tuple's attribute costs a call) nor with a starred name (which makes a list):
    # this runs 87,000 times.
    for identity, (rule, severity, number, store, core_ref, supervisor_ref, _refs, detail, day, _rep, _due) \
            in current.items():
        bucket = buckets[identity] = zlib.crc32(identity.encode()) % BUCKETS
        rows[(rule, bucket)].append((identity, str(severity), detail, number, store, core_ref, supervisor_ref,
                                     None if day is None else day.toordinal()))
    cells: dict[Cell, Fingerprint] = {}
    for rule in rules:
        for bucket in range(BUCKETS):
            of_cell = rows.get((rule, bucket))
            if not of_cell:
                cells[(rule, bucket)] = NO_FINDINGS
                continue
            of_cell.sort()  # identities are unique: the first item decides
            cells[(rule, bucket)] = Fingerprint(len(of_cell), _digest(of_cell))
    return Fingerprints(cells, buckets)


_STORED = text("SELECT rule, bucket, findings, digest FROM dashboard_rule_fingerprints WHERE rule IN :rules"
               ).bindparams(bindparam("rules", expanding=True))


def changed_cells(connection: Connection, fingerprints: Fingerprints) -> set[Cell]:
    """The cells whose stored fingerprint is not the one of what the run found (or is gone: something touched it)."""
    if not fingerprints.cells:
        return set()
    stored = {(rule, int(bucket)): Fingerprint(int(count), digest) for rule, bucket, count, digest in
              connection.execute(_STORED, {"rules": sorted({rule for rule, _ in fingerprints.cells})})}
    return {cell for cell, fingerprint in fingerprints.cells.items() if stored.get(cell) != fingerprint}


_FORGET = text("DELETE FROM dashboard_rule_fingerprints WHERE rule = :rule AND bucket = :bucket")


def store(connection: Connection, run_id: int, fingerprints: Fingerprints, cells: Iterable[Cell]) -> None:
    """Record the fingerprints of the cells a run merged, after the run's own writes to the findings (whose triggers
    deleted the ones they touched), in the run's transaction."""
    chosen = sorted(cells)
    if not chosen:
        return
    connection.execute(_FORGET, [{"rule": rule, "bucket": bucket} for rule, bucket in chosen])
    connection.execute(insert(RuleFingerprint.__table__), [
        {"rule": rule, "bucket": bucket, "run_id": run_id, "findings": fingerprints.cells[(rule, bucket)].findings,
         "digest": fingerprints.cells[(rule, bucket)].digest} for rule, bucket in chosen])
