"""What the World has materialised so far: the records that services and the truth read."""

from __future__ import annotations

from dataclasses import dataclass, field

from spyagency.simulator.plan import OutputPlan


@dataclass
class FileRecord:
    """One harvested output file and what happened to it."""

    out: OutputPlan
    file_hash: str
    created_at: float
    uploaded_at: float | None = None
    verdict: str | None = None  # ok | moved_to_fcsr | rejected_late | error (None: pending/lost)
    fcsr_at_upload: int | None = None
    inserted_at: float | None = None
    written_tags: tuple[str, ...] = ()  # the tags the upload wrote into (none: not written)


@dataclass
class HarvestJobRecord:
    """One AlcaHarvest job as WMStats shows it."""

    run: int
    stream: str
    uuid: str
    at: float
    failed: bool
    output_lfns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IovRecord:
    tag: str
    since: int
    inserted_at: float
    payload_hash: str
    file_key: str


@dataclass
class InjectedFault:
    kind: str
    at: float
    service: str | None = None
    run: int | None = None
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "at": self.at,
            "service": self.service,
            "run": self.run,
            "detail": self.detail,
        }
