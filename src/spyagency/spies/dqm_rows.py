"""Reading one ALCAPROMPT folder answer of the DQM GUI (``data/json/archive``) and pede's
exit message (docs/protocols.md, "DQM GUI JSON").

The GUI writes the answer by string formatting (dqmgui_prod ``serverext.cc`` ``objectToJSON``):
one entry per line, ``"contents": [{"streamerinfo": ..}, {"obj": ..}, {"subdir": ..}]``, and a
scalar's ``value`` comes last with only its double quotes escaped. A backslash or a newline in
one value therefore breaks the whole document; ``read_folder_text`` then re-reads it entry by
entry and takes that value as written, so one bad value does not hide the other objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spyagency.domain.states import DqmStatus
from spyagency.spies.documents import loads_lenient, loads_strict
from spyagency.spies.failures import SchemaViolation, truncate_raw
from spyagency.spies.parsing import as_list, as_mapping, compact, require_int

ERROR_CODE = 300
STATUS_RESULTS = "statusResults"
PEDE_EXIT_CODE = "PedeExitCode"

# The GUI closes each entry with "}\n" and separates the next with ", " (serverext.cc).
_ENTRY_BREAK = re.compile(r"\}\n, (?=\{)")
_CONTENTS_OPEN = re.compile(r'^\s*\{\s*"contents"\s*:\s*\[')
_CONTENTS_CLOSE = re.compile(r"\]\s*\}\s*$")
# A scalar's value is the last field; everything before it is escaped properly, so the first
# unescaped ``"value": "`` is the real one.
_RAW_VALUE = re.compile(r'^(?P<head>\{.*?"value": ")(?P<raw>.*)"\}\s*$', re.DOTALL)


@dataclass
class FolderSummary:
    statuses: list[DqmStatus] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    # Monitor elements in the folder (subdirectories and the streamer entry do not count).
    objects: int = 0
    # The alignment's 2-D status histogram is in the folder: its bins are read separately.
    has_status_results: bool = False
    pede_message: str | None = None
    problems: list[SchemaViolation] = field(default_factory=list)

    @property
    def status(self) -> DqmStatus:
        return max(self.statuses, key=lambda s: s.severity, default=DqmStatus.OTHER)


def folder_contents(body: Any) -> list[Any]:
    return as_list(as_mapping(body, "DQM answer").get("contents"), "DQM 'contents'")


def _repair_entry(chunk: str) -> Any:
    """One entry that is not JSON: its scalar value taken as the GUI wrote it."""
    match = _RAW_VALUE.match(chunk)
    if match is None:
        raise SchemaViolation("unreadable DQM entry", truncate_raw(chunk))
    try:
        entry = json.loads(match["head"] + '"}')
    except (ValueError, RecursionError):
        raise SchemaViolation("unreadable DQM entry", truncate_raw(chunk)) from None
    if not isinstance(entry, dict):
        raise SchemaViolation("unreadable DQM entry", truncate_raw(chunk))
    entry["value"] = match["raw"].replace('\\"', '"')
    return entry


def _recover(text: str, whole: SchemaViolation) -> tuple[list[Any], list[SchemaViolation]]:
    opening = _CONTENTS_OPEN.match(text)
    if opening is None:
        raise whole
    closing = _CONTENTS_CLOSE.search(text, opening.end())
    problems = []
    if closing is None:
        problems.append(SchemaViolation("DQM answer truncated", truncate_raw(text[-400:])))
    inner = text[opening.end() : closing.start() if closing else len(text)].strip()
    if not inner:
        return [], problems
    chunks = _ENTRY_BREAK.split(inner)
    entries = []
    for n, chunk in enumerate(chunks):
        piece = chunk if n == len(chunks) - 1 else chunk + "}"
        try:
            entries.append(json.loads(piece))
        except (ValueError, RecursionError):
            try:
                entries.append(_repair_entry(piece.rstrip()))
            except SchemaViolation as bad:
                problems.append(bad)
    return entries, problems


def read_folder_text(text: str) -> tuple[list[Any], list[SchemaViolation]]:
    """The entries of a folder answer and the parts that could not be read.

    Raises ``SchemaViolation`` when nothing of it is a folder answer."""
    try:
        body = loads_strict(text)
    except SchemaViolation as whole:
        if _CONTENTS_OPEN.match(text):
            return _recover(text, whole)
        # Only a single-quoted (legacy) answer goes to the Python-literal reader: it would
        # read a GUI answer's raw backslashes as Python escapes, silently.
        body = loads_lenient(text)
    return folder_contents(body), []


def _read_qresults(item: Mapping[str, Any], summary: FolderSummary) -> None:
    for result in as_list(item.get("qresults", []), f"qresults of {item.get('obj')!r:.60}"):
        test = as_mapping(result, "qresult")
        code = require_int(test, "status")
        summary.statuses.append(DqmStatus.from_code(code))
        if code == ERROR_CODE:
            name = test.get("name")
            summary.failed_tests.append(name if isinstance(name, str) else str(item["obj"]))


def _read_alignment(item: Mapping[str, Any], summary: FolderSummary) -> None:
    name = item["obj"]
    if name == STATUS_RESULTS:
        summary.has_status_results = True
    elif name == PEDE_EXIT_CODE:
        value = item.get("value")
        if not isinstance(value, str):
            # A STRING element (MillePedeDQMModule bookString): its value is the message.
            raise SchemaViolation(f"{PEDE_EXIT_CODE} value must be a string", compact(item))
        summary.pede_message = value


def summarise_contents(contents: list[Any]) -> FolderSummary:
    """A bad object is a problem listed in the summary; the other objects still count."""
    summary = FolderSummary()
    for entry in contents:
        if not isinstance(entry, Mapping) or "obj" not in entry:
            continue  # subdirectories, the streamer entry and unknown entries carry no quality
        summary.objects += 1
        try:
            if not isinstance(entry["obj"], str):
                raise SchemaViolation("field 'obj' must be a string")
            _read_qresults(entry, summary)
            _read_alignment(entry, summary)
        except SchemaViolation as bad:
            summary.problems.append(SchemaViolation(bad.message, compact(entry)))
    return summary


def summarise_folder(body: Any) -> FolderSummary:
    """``summarise_contents`` of a parsed answer; raises ``SchemaViolation`` when it is not
    a folder answer at all."""
    return summarise_contents(folder_contents(body))


def without_root_objects(contents: list[Any]) -> list[Any]:
    """The entries as evidence: the streamed objects' hex says nothing to a reader."""
    return [
        {k: v for k, v in e.items() if k not in ("rootobj", "streamerinfo")}
        if isinstance(e, Mapping)
        else e
        for e in contents
    ]


# ---------------------------------------------------------------- pede's exit message

# Pede's exit codes (Millepede II manual, "List of exit codes"; the DQM GUI's render plugin
# follows it: below 10 pede ended, from 10 on it aborted, -1 it still runs or crashed).
_CODE_AND_WORDS = re.compile(r"(-?\d+)(?:\s+(.*))?", re.DOTALL)


def _by_words(words: str) -> bool | None:
    lowered = words.lower()
    if lowered.startswith("ended"):
        return True  # "Ended normally", "Ended with (severe) warnings", "Ended without solution"
    if lowered.startswith("aborted") or lowered.startswith("still running or crashed"):
        return False
    return None


def _by_code(code: int) -> bool | None:
    if 0 <= code < 10:
        return True
    if code >= 10 or code == -1:
        return False
    return None


def classify_pede_message(message: str | None) -> bool | None:
    """True when pede says it ended, False when it says it aborted or crashed, None when the
    message cannot be classified (including CMSSW's own "no exit code found", written when
    pede's end file could not be read).

    The message is the line of ``millepede.end`` (MillePedeFileReader): the code, then the
    words. When both are there they must agree; a code alone is believed only when it says
    pede failed (fail closed)."""
    if message is None:
        return None
    text = " ".join(message.split())
    if not text:
        return None
    match = _CODE_AND_WORDS.fullmatch(text)
    if match is None:
        return _by_words(text)
    by_code = _by_code(int(match[1]))
    words = match[2] or ""
    if not words:
        return False if by_code is False else None
    by_words = _by_words(words)
    return by_code if by_words is not None and by_words == by_code else None
