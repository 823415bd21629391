"""What each kind of event does to the World: the Tier-0, harvest and upload machinery."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from spyagency.simulator.catalogue import Catalogue
from spyagency.simulator.condb import CondDb, IovWrite
from spyagency.simulator.fault_state import FaultState
from spyagency.simulator.harvest_files import lfn, write_harvest_output, write_uploaded_marker
from spyagency.simulator.plan import OutputPlan, RunPlan, StreamPlan
from spyagency.simulator.read_faults import ReadFaultEvents
from spyagency.simulator.records import (
    FileRecord,
    HarvestJobRecord,
    InjectedFault,
    IovRecord,
)
from spyagency.simulator.tier0_release import Tier0Releaser
from spyagency.simulator.uploads import UploadDecision, close_log, decide, open_log
from spyagency.simulator.wmstats_content import (
    ARCHIVE_AFTER_COMPLETED_S,
    ARCHIVED_STATUS,
    CLOSED_STATUS,
    COMPLETED_STATUS,
)

NO_OUTPUT_LFN = "/no/output"
# run_stream_done turns true only once every subscription of the stream's Express workflow is
# finished (dmwm/T0 GetRunStreamDone.py): after the last condition upload come LogCollect and
# cleanup. This long after the last upload (or after express, for a stream without data).
STREAM_DONE_AFTER_UPLOADS_S = 1800.0
# The upload service retries a blocked CondDB write this long after the block ends.
RETRY_AFTER_BLOCK_S = 1.0


class EventHandlers(ReadFaultEvents):
    """Mixed into World; the attributes below are created by World.__init__."""

    now: float
    harvest_dir: Path
    condb: CondDb
    catalogue: Catalogue
    runs: dict[int, RunPlan]
    releaser: Tier0Releaser
    faults: FaultState
    started: list[int]
    ended: set[int]
    stream_done: set[tuple[int, str]]
    transitions: dict[str, list[tuple[str, float]]]
    harvest_jobs: dict[str, list[HarvestJobRecord]]
    harvested_streams: set[tuple[int, str]]
    files: dict[str, FileRecord]
    upload_logs: dict[str, Any]
    iovs: list[IovRecord]
    provable_at: dict[tuple[int, str], float]
    reco_done: set[int]

    def schedule(self, at: float, kind: str, item: Any) -> None:
        raise NotImplementedError

    def fcsr(self) -> int:
        raise NotImplementedError

    def handle(self, kind: str, item: Any) -> None:
        getattr(self, f"_on_{kind}")(item)

    def _transition(self, request: str, status: str) -> None:
        self.transitions.setdefault(request, []).append((status, self.now))
        if status == COMPLETED_STATUS:
            self.schedule(self.now + ARCHIVE_AFTER_COMPLETED_S, "request_archived", request)

    def _on_request_archived(self, request: str) -> None:
        self._transition(request, ARCHIVED_STATUS)

    def _on_run_start(self, number: int) -> None:
        run = self.runs[number]
        self.started.append(number)
        self.releaser.add_run(number)
        self.condb.record_run(number, run.start, None)
        for stream in run.streams:
            self._transition(stream.request_name, "new")

    def _on_run_end(self, number: int) -> None:
        run = self.runs[number]
        self.ended.add(number)
        self.releaser.set_stop(number, run.stop)
        self.condb.record_run(number, run.start, run.stop)
        for stream in run.streams:
            self._transition(stream.request_name, CLOSED_STATUS)

    def _on_express_done(self, stream: StreamPlan) -> None:
        has_data = stream.harvest is not None
        self._transition(stream.request_name, "Harvesting" if has_data else COMPLETED_STATUS)

    def _on_stream_done(self, stream: StreamPlan) -> None:
        """The Tier-0 finishes the stream only after its uploads: one still in flight (the
        upload service waiting on a blocked CondDB) holds it back."""
        pending = [
            record
            for out in _stream_outputs(stream)
            if (record := self.files.get(out.key)) is not None
            and record.uploaded_at is not None
            and record.verdict is None
            and "uploaded_never_in_db" not in out.faults
        ]
        if pending:
            self.schedule(self.now + STREAM_DONE_AFTER_UPLOADS_S, "stream_done", stream)
            return
        self.stream_done.add((stream.run, stream.stream))

    def _on_harvest(self, stream: StreamPlan) -> None:
        harvest = stream.harvest
        assert harvest is not None
        run = self.runs[stream.run]
        job = HarvestJobRecord(stream.run, stream.stream, harvest.uuid, self.now, harvest.failed)
        if not harvest.failed:
            for wf in harvest.workflows:
                for out in wf.outputs:
                    job.output_lfns += self._write_output(run, out)
            job.output_lfns = job.output_lfns or [NO_OUTPUT_LFN]
        self.harvest_jobs.setdefault(stream.request_name, []).append(job)
        self.harvested_streams.add((stream.run, stream.stream))
        self._transition(stream.request_name, "Processing Done")
        if not harvest.extra_outputs:
            self._transition(stream.request_name, COMPLETED_STATUS)

    def _on_harvest_duplicate(self, out: OutputPlan) -> None:
        run = self.runs[out.run]
        job = HarvestJobRecord(out.run, out.stream, out.uuid, self.now, failed=False)
        job.output_lfns = self._write_output(run, out)
        request = f"Express_Run{out.run}_Stream{out.stream}"
        self.harvest_jobs.setdefault(request, []).append(job)
        # A request completes only once all its jobs ran (its jobdetail is final from then).
        harvest = next(s.harvest for s in run.streams if s.stream == out.stream)
        if harvest is not None and len(self.harvest_jobs[request]) == 1 + len(
            harvest.extra_outputs
        ):
            self._transition(request, COMPLETED_STATUS)
        self.faults.note(
            InjectedFault(
                "duplicate_harvest",
                self.now,
                run=out.run,
                detail=f"{out.file_stem} duplicates uuid {out.duplicate_of}",
            )
        )

    def _write_output(self, run: RunPlan, out: OutputPlan) -> list[str]:
        file_hash = write_harvest_output(self.harvest_dir, out, run.start)
        self.files[out.key] = FileRecord(out, file_hash, self.now)
        self.corrupt_if_planned(run, out)
        return [lfn(out, run.start, ".db"), lfn(out, run.start, ".txt")]

    def _on_upload_attempt(self, out: OutputPlan) -> None:
        record = self.files.get(out.key)
        if record is None:  # its harvest has not written it (cannot happen with a sane plan)
            return
        run = self.runs[out.run]
        write_uploaded_marker(self.harvest_dir, out, run.start, self.now)
        record.uploaded_at = self.now
        if "out_of_order_upload" in out.faults:
            self.faults.note(
                InjectedFault("out_of_order_upload", self.now, run=out.run, detail=out.file_stem)
            )
        if "uploaded_never_in_db" in out.faults:
            # The marker is written before the upload; the upload itself never happens.
            self.faults.note(
                InjectedFault("uploaded_never_in_db", self.now, run=out.run, detail=out.file_stem)
            )
            return
        self.upload_logs[record.file_hash] = open_log(out, record.file_hash, self.now)
        self.hide_log_if_planned(out, record.file_hash)
        self.schedule(self.now + out.processing_s, "upload_finish", out)

    def _condb_blocked_until(self) -> float | None:
        ends = [self.faults.window_end(self.now, k) for k in ("condb_locked", "condb_unreadable")]
        known = [e for e in ends if e is not None]
        return max(known) if known else None

    def _on_upload_finish(self, out: OutputPlan) -> None:
        blocked_until = self._condb_blocked_until()
        if blocked_until is not None:
            self.schedule(blocked_until + RETRY_AFTER_BLOCK_S, "upload_finish", out)
            return
        record = self.files[out.key]
        fcsr = self.fcsr()
        decision = decide(out, fcsr)
        record.verdict, record.fcsr_at_upload = decision.verdict, fcsr
        if decision.verdict in ("ok", "moved_to_fcsr"):
            delay = self.iov_delay_s(out)
            if delay is None:
                self._insert(out, record, decision)
            else:
                # The log says done now; the IOVs reach the CondDB only later (late_item).
                self.schedule(self.now + delay, "late_item_insert", (out, decision))
        close_log(self.upload_logs[record.file_hash], out, decision, fcsr, self.now)

    def _on_late_item_insert(self, item: tuple[OutputPlan, UploadDecision]) -> None:
        out, decision = item
        blocked_until = self._condb_blocked_until()
        if blocked_until is not None:
            self.schedule(blocked_until + RETRY_AFTER_BLOCK_S, "late_item_insert", item)
            return
        self._insert(out, self.files[out.key], decision)

    def _insert(self, out: OutputPlan, record: FileRecord, decision: UploadDecision) -> None:
        # The upload service exports to every destination tag of the output (one itemStatus
        # each); a wrong-tag fault sends the whole upload to one other tag instead.
        tags = out.spec.destination_tags
        writes = [
            IovWrite(since, iov.payload_hash, iov.payload_data, out.spec.object_type)
            for since, iov in zip(decision.sinces, out.iovs, strict=False)
        ]
        if "iov_wrong_tag" in out.faults:
            tags = (self._another_tag(out),)
            self.faults.note(
                InjectedFault(
                    "iov_wrong_tag",
                    self.now,
                    run=out.run,
                    detail=f"{out.file_stem} written to {tags[0]}",
                )
            )
        if "iov_wrong_hash" in out.faults:
            data = b"not the harvested payload|" + out.iovs[0].payload_data
            wrong = hashlib.sha1(data).hexdigest()  # noqa: S324
            writes = [IovWrite(w.since, wrong, data, w.object_type) for w in writes]
            self.faults.note(
                InjectedFault(
                    "iov_wrong_hash",
                    self.now,
                    run=out.run,
                    detail=f"{out.file_stem} IOV points to {wrong}",
                )
            )
        self.condb.insert_iovs(tags, writes, self.now, f"T0 PCL Upload for Run {out.run}")
        record.inserted_at, record.written_tags = self.now, tags
        planned = {iov.payload_hash for iov in out.iovs}
        moved = decision.verdict == "moved_to_fcsr"
        for tag in tags:
            for w in writes:
                self.iovs.append(IovRecord(tag, w.since, self.now, w.payload_hash, out.key))
            if tag in out.spec.destination_tags and not moved and writes[0].payload_hash in planned:
                self.provable_at.setdefault((out.run, tag), self.now)

    def _another_tag(self, out: OutputPlan) -> str:
        same_type = sorted(
            name
            for name, spec in self.catalogue.destination_tags().items()
            if spec.time_type == out.spec.time_type and name not in out.spec.destination_tags
        )
        return same_type[out.run % len(same_type)]

    def _on_reco_done(self, run: int) -> None:
        self.reco_done.add(run)

    def _on_window_start(self, kind: str) -> None:
        if kind == "condb_locked":
            self.condb.lock()
        else:
            self.condb.make_unreadable()

    def _on_window_end(self, kind: str) -> None:
        still = self.faults.window_end(self.now, kind)
        if still is not None:  # another window of the same kind continues the block
            return
        if kind == "condb_locked":
            self.condb.unlock()
        else:
            self.condb.restore_readable()


def _stream_outputs(stream: StreamPlan) -> list[OutputPlan]:
    if stream.harvest is None:
        return []
    outputs = [out for wf in stream.harvest.workflows for out in wf.outputs]
    return outputs + list(stream.harvest.extra_outputs)


def stream_done_at(stream: StreamPlan) -> float | None:
    """When ``run_stream_done`` turns true for the stream, as planned: after express, the
    harvest (and its duplicates) and the last upload, plus LogCollect and cleanup. None when
    the harvest fails: the paused job keeps its subscription open."""
    harvest = stream.harvest
    if harvest is not None and harvest.failed:
        return None
    moments = [stream.express_done_at]
    if harvest is not None:
        moments.append(harvest.at)
        for out in _stream_outputs(stream):
            moments += [out.created_at, out.upload_at + out.processing_s]
    return max(moments) + STREAM_DONE_AFTER_UPLOADS_S
