"""Rule fingerprints: a full data-quality run that finds of a rule exactly what is open leaves the rule alone (issue 22).

At 1,000,000 events a full run reports about 87,000 findings, nearly all of them open already and unchanged. Reading
the open findings back and comparing them one by one was a third of the run. A rule's fingerprint is the number of its
open findings and a digest of their identities and of everything a run would rewrite (severity, detail, day, event
number, store, CORE and Supervisor refs), stored by the run that judged the rule whole (dashboard_rule_fingerprints,
migration 0024). When a full run's findings of a rule give the stored fingerprint, its open findings are exactly those:
nothing is new, resolved or changed, and the merge does not read them.

The stored fingerprint is only trusted while nothing else touched the rule's findings: triggers on dashboard_findings
delete it when any program (an incremental run, a partial run, SQL by hand) inserts, deletes or rewrites one of them
(migration 0024), and a run writes the fingerprints of the rules it judged whole after its own writes, in the same
transaction.
"""
from __future__ import annotations

import hashlib
import marshal
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, delete, insert, text

from services.quality.rules import Finding
from services.store.tables import RuleFingerprint


class Fingerprint(NamedTuple):
    findings: int
    digest: str


_MARSHAL_VERSION = 2  # before version 3's back-references: no table of every object written, a quarter faster here


def _digest(rows: list) -> str:
    return hashlib.blake2b(marshal.dumps(rows, _MARSHAL_VERSION), digest_size=16).hexdigest()


NO_FINDINGS = Fingerprint(0, _digest([]))


def fingerprints_of(current: Mapping[str, Finding], rules: Iterable[str]) -> dict[str, Fingerprint]:
    """The fingerprint of each of `rules` from a run's findings by identity (a rule with none has NO_FINDINGS). Each
    finding is a tuple of its identity and what a run would rewrite, the tuples sorted by identity (so the order the
    rules' queries return rows in does not matter) and serialised by marshal: an unambiguous encoding of strings,
    numbers and None, whatever characters a name from Crossmark holds, at a sixth of the cost of formatting text (the
    severity as its text: marshal writes no str subclass; the day as its ordinal)."""
    rows: dict[str, list[tuple]] = defaultdict(list)
    # Unpacked, not read by attribute (a named tuple's attribute costs a call) nor with a starred name (which makes a list):
    # this runs 87,000 times.
    for identity, (rule, severity, number, store, core_ref, supervisor_ref, _refs, detail, day, _rep, _due) \
            in current.items():
        rows[rule].append((identity, str(severity), detail, number, store, core_ref, supervisor_ref,
                           None if day is None else day.toordinal()))
    fingerprints = {}
    for rule in rules:
        of_rule = rows.get(rule)
        if not of_rule:
            fingerprints[rule] = NO_FINDINGS
            continue
        of_rule.sort()  # identities are unique: the first item decides
        fingerprints[rule] = Fingerprint(len(of_rule), _digest(of_rule))
    return fingerprints


_STORED = text("SELECT rule, findings, digest FROM dashboard_rule_fingerprints WHERE rule IN :rules").bindparams(
    bindparam("rules", expanding=True))


def stored(connection: Connection, rules: Iterable[str]) -> dict[str, Fingerprint]:
    """The fingerprints still stored for these rules (a rule whose findings something touched since has none)."""
    return {rule: Fingerprint(int(count), digest)
            for rule, count, digest in connection.execute(_STORED, {"rules": sorted(set(rules))})}


def store(connection: Connection, run_id: int, fingerprints: Mapping[str, Fingerprint]) -> None:
    """Record the fingerprints of the rules a run judged whole, after the run's own writes to the findings (whose
    triggers deleted the ones they touched), in the run's transaction."""
    if not fingerprints:
        return
    table = RuleFingerprint.__table__
    connection.execute(delete(table).where(table.c.rule.in_(sorted(fingerprints))))
    connection.execute(insert(table), [{"rule": rule, "run_id": run_id, "findings": fingerprint.findings,
                                        "digest": fingerprint.digest}
                                       for rule, fingerprint in sorted(fingerprints.items())])
