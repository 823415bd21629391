"""The upload-log spy: what the conditions upload service did with each uploaded file.

Per cycle: one ``getFileLog?fileHash=<hash>`` per harvested file of an open run whose outcome
is still unknown (``RunScope.uploads``); the hash is the sha1 of the upload tarball
(``HarvestFile.upload_hash``). The answer is the plain-text processing log
(``upload_log_rows``). A hash the service does not know answers HTTP 500 (its handler fails
on the empty lookup, jgomezca/HVScan_RPC ``logs/dropBox/logs.py``), as does a file still
being processed (its log is stored when processing ends), and a hash we computed differently
from the Tier-0: so a 500 is "no log yet", which proves nothing, like a 404.

The service itself is failing only when it cannot be reached, refuses us, or answers 500 even
for a log it served before: when every request of a cycle got a 500, the spy asks again for
the last log it read (if any) and calls the source failing only if that one fails too. With
no such log (a fresh start), a cycle of 500s proves nothing either way and is no error: the
uploads stay without outcome, and the lifecycle's own timeouts judge them.

One upload that cannot be judged (a malformed hash, a log naming no destination tag) is an
item problem on its run; the others go on.
"""

from __future__ import annotations

import asyncio
from typing import Unpack

from spyagency.domain.facts import UploadResult
from spyagency.domain.states import Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.failures import SourceFailure
from spyagency.spies.http import JsonDocument
from spyagency.spies.report import Findings
from spyagency.spies.scope import PollScope, RunScope, UploadScope
from spyagency.spies.upload_log_rows import FILE_HASH, LATE_WORDING, classify, parse_file_log

UNKNOWN_HASH_STATUS = "HTTP 500"


def _plain_text(text: str) -> str:
    return text


def upload_item(upload: UploadScope) -> str:
    """The stable item name of one upload's log, for item problems."""
    return f"upload log of {upload.input_tag}@{upload.uuid}"


class UploadLogSpy(HttpSpy):
    """``base_url`` is the ``.../logs/dropBox/`` folder of the upload service.

    ``late_wording``: the lower-case phrases that mark a pcl upload refused as too late.
    """

    source = Source.UPLOAD_LOG

    def __init__(
        self,
        base_url: str,
        *,
        late_wording: tuple[str, ...] = LATE_WORDING,
        **options: Unpack[HttpSpyOptions],
    ) -> None:
        super().__init__(base_url, **options)
        self.late_wording = tuple(phrase.lower() for phrase in late_wording if phrase.strip())
        self._known_good: str | None = None  # the hash of the last log read

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        parts = [(run, upload) for run in scope.runs for upload in run.uploads]
        answers = await asyncio.gather(*(self._file(run, upload) for run, upload in parts))
        for part, _ in answers:
            findings.extend(part)
        asked = [status for _, status in answers if status is not None]
        if asked and all(status == UNKNOWN_HASH_STATUS for status in asked):
            await self._check_service(findings)

    async def _file(self, run: RunScope, upload: UploadScope) -> tuple[Findings, str | None]:
        """What one upload's log says, and how the request went: None when nothing was
        asked, else ``"ok"``, ``"absent"`` or the failure's message."""
        findings = Findings(self.source, self.clock)
        status = await self._ask(run, upload, findings)
        return findings, status

    async def _ask(self, run: RunScope, upload: UploadScope, findings: Findings) -> str | None:
        file_hash = upload.upload_hash.lower()
        if not FILE_HASH.fullmatch(file_hash):
            findings.item_problem(
                run.run,
                upload_item(upload),
                f"not a sha1 upload hash: {upload.upload_hash!r:.60}",
                input_tag=upload.input_tag,
            )
            return None
        try:
            document = await self._get(file_hash)
        except SourceFailure as failure:
            if failure.message == UNKNOWN_HASH_STATUS:
                return failure.message  # no log for this hash yet: no evidence either way
            findings.failure(failure)
            return failure.message
        if document is None:
            return "absent"
        self._known_good = file_hash
        self._judge(run, upload, document, findings)
        return "ok"

    async def _get(self, file_hash: str) -> JsonDocument | None:
        return await self.http.get_json(
            "getFileLog", {"fileHash": file_hash}, reader=_plain_text, absent_on_404=True
        )

    def _judge(
        self, run: RunScope, upload: UploadScope, document: JsonDocument, findings: Findings
    ) -> None:
        text = str(document.body)
        log = parse_file_log(text)
        tags = upload.destination_tags or log.tags_named()
        if not tags:
            findings.item_problem(
                run.run,
                upload_item(upload),
                f"the upload log of {upload.upload_hash} names no destination tag",
                raw=text,
                url=document.url,
                input_tag=upload.input_tag,
            )
            return
        findings.item_ok(run, upload_item(upload))
        for tag, outcome, info in classify(log, tags, self.late_wording):
            fact = UploadResult(
                run=run.run,
                input_tag=upload.input_tag,
                uuid=upload.uuid,
                tag=tag,
                outcome=outcome,
                info=info,
            )
            findings.observe(fact, raw=text)

    async def _check_service(self, findings: Findings) -> None:
        """Every request got a 500: the service is failing only if a log it served before
        fails too (unknown hashes alone prove nothing)."""
        if self._known_good is None:
            return
        try:
            await self._get(self._known_good)
        except SourceFailure as failure:
            findings.error(
                f"{failure.message} for every log, even one served before",
                raw=failure.raw,
                url=failure.url,
            )
