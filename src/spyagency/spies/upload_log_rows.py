"""Reading and classifying one upload-service file log (``getFileLog?fileHash=``).

The answer is plain text: the processing log of one uploaded tarball, one line per event,
``[<time>] <LEVEL>: <message>`` (the dropBox backend's file logger, jgomezca/HVScan_RPC
``dropBoxBE/TeeFile.py``, served as is by ``logs/dropBox/logs.py``). The file's status code
follows ``offset + step*100 + {01 started, 10/20 failed, 11 warning, 99 ok}``
(``dropBoxBE/Constants.py``): 2999 is "downloaded", 3999 "metadata extracted", 4999
"processed"; only a processing-phase ``x999`` means finished and ok. A log that names its
status code (``statusCode: 4999``, or the backend's own ``updating status for <hash> to
4999``; whether today's service writes it into the file's text is not public) is
classified by the last code it names; a log without one by its words.

Every tag ends up ``ok``, ``rejected_late`` (a pcl since below the first condition-safe run),
``error``, ``pending`` (still being processed) or ``not_known`` (the words fit none of these;
never taken as ok). The wording of a late pcl upload in today's service is not public: the
phrases are a setting (``LATE_WORDING`` is the default), and the raw text is always kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from spyagency.domain.states import UploadOutcome

FILE_HASH = re.compile(r"^[0-9a-f]{40}$")
# How a pcl upload refused for a since below the first condition-safe run may be worded,
# lower case: the 2012 backend's file log ("Cannot synchronize to PCL since firstSince <
# syncValue", dropBoxBE/Dropbox.py getDestSince), the cmssw upload clients' "too late", and
# a since said to be below or smaller than the FCSR. A setting: today's service words it its
# own way. Each phrase must say "refused": a log that merely names the FCSR (most do) is not
# a refusal, so "first condition safe run" alone is no phrase.
LATE_WORDING: tuple[str, ...] = (
    "cannot synchronize to pcl",
    "too late",
    "smaller than the first condition safe run",
    "below the first condition safe run",
    "smaller than the first condition-safe run",
    "below the first condition-safe run",
)
# "statusCode: 4999", and the backend's own words when it sets a file's status
# (dropBoxBE/Dropbox.py "updating status for <hash> to <code>", StatusUpdater.py
# "going to update status for <hash> code: <code>").
STATUS_CODE = re.compile(
    r"(?:status\s*code\s*[:=]?\s*|update?(?:ing)? status for [0-9a-fA-F]{40}(?: to| code:)\s*)"
    r"([1-9][0-9]{2,3})\b",
    re.IGNORECASE,
)
ERROR_LINE = re.compile(r"\]\s*(?:ERROR|CRITICAL)\s*:", re.IGNORECASE)
# The 2012 backend's last line of a file's log ("done handling <hash>"), and its word for an
# exported tag ("exportation to <sync> done."); newer services may say "upload finished".
FINISHED_WORDING = ("done handling", "upload finished", "processing finished")
EXPORTED_WORDING = ("exportation to", "inserted", "successfully")
DEST_TAG = re.compile(r"dest(?:ination)? tag\(?s?\)?\s+['\"]?([A-Za-z0-9_.-]+)")
PROCESSING_PHASE = 4000  # status codes from here on belong to the processing of the file
INFO_LIMIT = 500


class LogState(StrEnum):
    """What the status code (or, without one, the words) says of the whole file."""

    IN_PROGRESS = "in_progress"
    OK = "ok"
    FAILED = "failed"
    WARNING = "warning"  # finished, exported, a side duplication failed (x11)
    WORDS = "words"  # no status code: the words decide


def state_of_code(code: int) -> LogState:
    """``statusCode % 100``: 99 a step ok, 10/20 failed, 11 warning, else in progress; a step
    ok is the end only for the processing phase's last step (4999; 9999 for a whole run)."""
    rest = code % 100
    if rest in (10, 20):
        return LogState.FAILED
    if rest == 11:
        return LogState.WARNING
    if rest == 99 and code >= PROCESSING_PHASE and code % 1000 == 999:
        return LogState.OK
    return LogState.IN_PROGRESS


@dataclass(frozen=True)
class FileLog:
    text: str
    status_code: int | None
    lines: tuple[str, ...]

    @property
    def state(self) -> LogState:
        return LogState.WORDS if self.status_code is None else state_of_code(self.status_code)

    def tags_named(self) -> tuple[str, ...]:
        """Destination tags the log names (``dest tag <name>``), in order of appearance."""
        return tuple(dict.fromkeys(m[1] for m in DEST_TAG.finditer(self.text)))


def parse_file_log(text: str) -> FileLog:
    """Never fails: any text is a log; what it says is decided by ``classify``."""
    codes = STATUS_CODE.findall(text)
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    return FileLog(text, int(codes[-1]) if codes else None, lines)


def _has(line: str, phrases: tuple[str, ...]) -> bool:
    lowered = line.lower()
    return any(phrase in lowered for phrase in phrases)


def _first(lines: tuple[str, ...], phrases: tuple[str, ...]) -> str | None:
    return next((line for line in lines if _has(line, phrases)), None)


def _info(line: str | None, fallback: str) -> str:
    return (line or fallback)[:INFO_LIMIT]


def classify(
    log: FileLog, tags: tuple[str, ...], late_wording: tuple[str, ...] = LATE_WORDING
) -> list[tuple[str, UploadOutcome, str]]:
    """(tag, outcome, info) for each of ``tags``: the file's state, refined per tag when a
    late line names a tag (then only the tags it names are late)."""
    late_lines = [line for line in log.lines if _has(line, late_wording)]
    late_tags = {tag for tag in tags for line in late_lines if tag in line}
    state = log.state
    code = f"status code {log.status_code}" if log.status_code is not None else ""
    outcomes: list[tuple[str, UploadOutcome, str]] = []
    for tag in tags:
        late = bool(late_lines) and (not late_tags or tag in late_tags)
        if late and state is not LogState.IN_PROGRESS:
            line = next((ln for ln in late_lines if tag in ln), late_lines[0])
            outcomes.append((tag, UploadOutcome.REJECTED_LATE, _info(line, code)))
        elif state is LogState.IN_PROGRESS:
            outcomes.append((tag, UploadOutcome.PENDING, _info(None, code)))
        elif state is LogState.OK:
            outcomes.append((tag, UploadOutcome.OK, _info(None, code)))
        elif state is LogState.FAILED:
            error = next((ln for ln in log.lines if ERROR_LINE.search(ln)), None)
            outcomes.append((tag, UploadOutcome.ERROR, _info(error, code)))
        else:
            outcomes.append(_by_words(log, tag, code))
    return outcomes


def _by_words(log: FileLog, tag: str, code: str) -> tuple[str, UploadOutcome, str]:
    """A finished log without a usable code: an error line is an error; a finished log that
    says it exported is ok; anything else is not known (never ok by default)."""
    error = next((line for line in log.lines if ERROR_LINE.search(line)), None)
    if error is not None:
        return tag, UploadOutcome.ERROR, _info(error, code)
    finished = _first(log.lines, FINISHED_WORDING)
    exported = _first(log.lines, EXPORTED_WORDING)
    if finished is not None and exported is not None:
        return tag, UploadOutcome.OK, _info(exported, code)
    last = log.lines[-1] if log.lines else "empty log"
    return tag, UploadOutcome.NOT_KNOWN, _info(last, code)
