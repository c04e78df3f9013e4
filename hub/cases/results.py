"""What storing a batch of alerts did: new, duplicate, rejected and silenced alerts, and the
cases they opened or joined."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from devices.kinds import AlertKind
from devices.messages import Alert
from hub.cases.views import AlertView, CaseView


@dataclass(frozen=True, slots=True)
class AlertRef:
    """Which alert, from which edge, about which device."""

    id: str
    edge_id: str
    device_id: str

    @classmethod
    def of(cls, alert: Alert) -> "AlertRef":
        """Return the reference of an alert."""
        return cls(alert.id, alert.edge_id, alert.device_id)


@dataclass(frozen=True, slots=True)
class RejectedAlert:
    """An alert the hub judged and refused, with the counted reason."""

    alert: AlertRef
    reason: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one batch of alerts did to the database."""

    new: list[AlertView] = field(default_factory=list)
    duplicates: list[AlertRef] = field(default_factory=list)
    rejected: list[RejectedAlert] = field(default_factory=list)
    cases_opened: list[CaseView] = field(default_factory=list)
    cases_updated: list[CaseView] = field(default_factory=list)
    silenced: list[str] = field(default_factory=list)
    """Ids of new alerts a silence covered: stored and audited, no case."""
    cases_merged_into: list[int] = field(default_factory=list)
    """Ids of the cases that took in cases opened before them (``hub.cases.merging``); the
    cases taken in are among ``cases_updated``, closed."""
    renamed: dict[str, str] = field(default_factory=dict)
    """New alerts stored under another id than the edge's, because theirs was another
    alert's (``hub.cases.copies``): the stored id → the id the edge sent."""

    @classmethod
    def merge(cls, results: Iterable["IngestResult"]) -> "IngestResult":
        """Return the results of several transactions as one."""
        merged = cls()
        for result in results:
            merged.new.extend(result.new)
            merged.duplicates.extend(result.duplicates)
            merged.rejected.extend(result.rejected)
            merged.cases_opened.extend(result.cases_opened)
            merged.cases_updated.extend(result.cases_updated)
            merged.silenced.extend(result.silenced)
            merged.cases_merged_into.extend(result.cases_merged_into)
            merged.renamed.update(result.renamed)
        return merged

    def cases_joined_by(self, kinds: frozenset[AlertKind]) -> list[CaseView]:
        """Return the opened or updated cases that a new alert of one of ``kinds`` joined.

        An SOS that joins a fire case is news for that button even though the case is not new;
        so is a fire case that took in the case the button's press opened before it.
        """
        case_ids = {a.case_id for a in self.new if a.kind in kinds and a.case_id is not None}
        # A case that took in a press handled before it: the button's case is this one now.
        case_ids.update(
            c.id
            for c in self.cases_opened
            if c.id in self.cases_merged_into and any(m.kind in kinds for m in c.members)
        )
        return [c for c in (*self.cases_opened, *self.cases_updated) if c.id in case_ids]

    def ack_ids_by_edge(self) -> dict[str, list[str]]:
        """Return, per edge, the alert ids it may delete from its outbox.

        New and duplicate alerts are committed. Rejected ones are acknowledged too: they were
        judged, logged and counted, and an edge would otherwise re-send them forever. A new
        alert stored under another id is acknowledged under the edge's.
        """
        acks: dict[str, dict[str, None]] = defaultdict(dict)  # dicts keep order, drop repeats
        refs = [
            *(AlertRef(self.renamed.get(a.id, a.id), a.edge_id, a.device_id) for a in self.new),
            *self.duplicates,
            *(r.alert for r in self.rejected),
        ]
        for ref in refs:
            acks[ref.edge_id][ref.id] = None
        return {edge_id: list(ids) for edge_id, ids in acks.items()}
