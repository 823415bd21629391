"""What the read faults (``read_fault_planner``) do in the running world, and what the
simulated services ask of them.

Each fault is recorded (``FaultState.note``) once, when it begins, with its run and a detail
naming the item and the window's end. Its edges are world events: a client polling on a grid
sees each change at its next poll.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spyagency.simulator.fault_state import FaultState
from spyagency.simulator.harvest_files import corrupt_harvest_output, write_harvest_output
from spyagency.simulator.plan import OutputPlan, ReadFault, RunPlan
from spyagency.simulator.records import InjectedFault
from spyagency.simulator.timefmt import iso_micro

# The read faults fixed in time by the plan, scheduled with it; the others begin at a world
# event of their item (the file written, the upload attempted or finished).
SCHEDULED_KINDS = ("truncated_item", "missing_folder")


class ReadFaultEvents:
    """Mixed into the World (through ``EventHandlers``); the attributes below are the
    World's."""

    now: float
    harvest_dir: Path
    runs: dict[int, RunPlan]
    faults: FaultState
    # Upload hash -> until when ``getFileLog`` answers as if it did not know it.
    hidden_logs: dict[str, float]

    def schedule(self, at: float, kind: str, item: Any) -> None:
        raise NotImplementedError

    # --- scheduling ----------------------------------------------------------------------

    def schedule_read_faults(self, run: RunPlan) -> None:
        for fault in run.read_faults:
            if fault.kind in SCHEDULED_KINDS:
                self.schedule(fault.start, f"{fault.kind}_start", fault)
                self.schedule(fault.end, f"{fault.kind}_end", fault)

    def _note_read_fault(self, fault: ReadFault, detail: str, until: float) -> None:
        self.faults.note(
            InjectedFault(
                fault.kind, self.now, run=fault.run, detail=f"{detail} until {iso_micro(until)}"
            )
        )

    # --- corrupt_harvest_file --------------------------------------------------------------

    def corrupt_if_planned(self, run: RunPlan, out: OutputPlan) -> None:
        """Just after the harvest wrote ``out``: garble its files if a fault is planned."""
        for fault in run.read_faults_of("corrupt_harvest_file", out.key):
            txt = fault.variant == "db+txt"
            corrupt_harvest_output(self.harvest_dir, out, run.start, txt=txt)
            until = self.now + fault.duration_s
            self.schedule(until, "corrupt_harvest_file_end", (run, out))
            files = ".db and .txt" if txt else ".db"
            self._note_read_fault(fault, f"{out.file_stem}{files} unreadable", until)

    def _on_corrupt_harvest_file_end(self, item: tuple[RunPlan, OutputPlan]) -> None:
        run, out = item
        write_harvest_output(self.harvest_dir, out, run.start)

    # --- late_item ---------------------------------------------------------------------------

    def _late(self, out: OutputPlan, part: str) -> ReadFault | None:
        return next(
            (
                f
                for f in self.runs[out.run].read_faults_of("late_item", out.key)
                if part in f.variant.split("+")
            ),
            None,
        )

    def hide_log_if_planned(self, out: OutputPlan, file_hash: str) -> None:
        """At the upload attempt (its log just opened): hide the log for the window."""
        fault = self._late(out, "log")
        if fault is None:
            return
        until = self.now + fault.duration_s
        self.hidden_logs[file_hash] = until
        self.schedule(until, "late_item_end", file_hash)
        self._note_read_fault(fault, f"{out.file_stem}: upload log {file_hash} unknown", until)

    def _on_late_item_end(self, file_hash: str) -> None:
        if self.hidden_logs.get(file_hash, self.now) <= self.now:
            self.hidden_logs.pop(file_hash, None)

    def log_hidden(self, file_hash: str) -> bool:
        return self.now < self.hidden_logs.get(file_hash, self.now)

    def iov_delay_s(self, out: OutputPlan) -> float | None:
        """At the upload's end, when its IOVs are to be written: how much later they are
        (None: at once). The delay is recorded here, as it starts."""
        fault = self._late(out, "iov")
        if fault is None:
            return None
        until = self.now + fault.duration_s
        self._note_read_fault(
            fault, f"{out.file_stem}: IOVs withheld from the CondDB after its log said done", until
        )
        return fault.duration_s

    # --- truncated_item, missing_folder ------------------------------------------------------

    def _on_truncated_item_start(self, fault: ReadFault) -> None:
        self._note_read_fault(
            fault, f"run {fault.run}: DQM GUI and WMStats jobdetail answers cut in half", fault.end
        )

    def _on_truncated_item_end(self, fault: ReadFault) -> None:
        del fault  # the answers are whole again: the event's service touch says so

    def _on_missing_folder_start(self, fault: ReadFault) -> None:
        self._note_read_fault(
            fault, f"run {fault.run}: DQM folder of {fault.item} not there", fault.end
        )

    def _on_missing_folder_end(self, fault: ReadFault) -> None:
        del fault  # the folder is shown again: the event's service touch says so

    def answers_truncated(self, run: int) -> bool:
        """Whether the DQM GUI's and WMStats jobdetail's answers about ``run`` are cut."""
        plan = self.runs.get(run)
        return plan is not None and any(
            f.covers(self.now) for f in plan.read_faults_of("truncated_item")
        )

    def folder_missing(self, run: int, workflow: str) -> bool:
        """Whether the DQM GUI shows no folder for ``workflow`` of ``run`` now."""
        plan = self.runs.get(run)
        return plan is not None and any(
            f.covers(self.now) for f in plan.read_faults_of("missing_folder", workflow)
        )
