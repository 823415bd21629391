"""The upload-log spy: what the conditions upload service did with each uploaded file.

Per cycle: one ``getFileLog?fileHash=`` per harvested file of an open run whose outcome is
still unknown (``RunScope.uploads``). A 404 means the service has not seen the file yet.
"""

from __future__ import annotations

from spyagency.domain.facts import UploadResult
from spyagency.domain.states import Source, UploadOutcome
from spyagency.spies.base import HttpSpy
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.report import Findings, gather_into
from spyagency.spies.scope import PollScope, UploadScope
from spyagency.spies.upload_log_rows import FILE_HASH, FileLog, classify, parse_file_log


class UploadLogSpy(HttpSpy):
    """``base_url`` is the ``.../logs/dropBox/`` folder of the upload service."""

    source = Source.UPLOAD_LOG

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        parts = (
            self._file(run.run, upload, findings.child())
            for run in scope.runs
            for upload in run.uploads
        )
        await gather_into(findings, parts)

    async def _file(self, run: int, upload: UploadScope, findings: Findings) -> Findings:
        file_hash = upload.file_sha1.lower()
        if not FILE_HASH.fullmatch(file_hash):
            findings.error(f"not a sha1 file hash: {upload.file_sha1!r:.60}", permanent=True)
            return findings
        try:
            document = await self.http.get_json(
                "getFileLog", {"fileHash": file_hash}, absent_on_404=True
            )
        except SourceFailure as failure:
            findings.failure(failure)
            return findings
        if document is None:
            return findings
        try:
            log = parse_file_log(document.body, file_hash)
        except SchemaViolation as bad:
            findings.violation(bad, document.url, f"upload log of {file_hash}")
            return findings
        # The log text is what an expert reads; the JSON around it is kept when there is none.
        evidence = log.log or document.text
        for tag, outcome, info in self._outcomes(log, upload):
            fact = UploadResult(
                run=run,
                input_tag=upload.input_tag,
                uuid=upload.uuid,
                tag=tag,
                outcome=outcome,
                info=info,
            )
            findings.observe(fact, raw=evidence)
        if not log.items and not upload.destination_tags:
            findings.error(
                f"upload log of {file_hash} names no destination tag",
                raw=document.text,
                url=document.url,
            )
        return findings

    @staticmethod
    def _outcomes(log: FileLog, upload: UploadScope) -> list[tuple[str, UploadOutcome, str]]:
        if not log.finished:
            tags = [item.tag for item in log.items] or list(upload.destination_tags)
            return [(tag, UploadOutcome.PENDING, log.status_text) for tag in tags]
        if log.items:
            return [(i.tag, classify(i.status, i.info), i.info) for i in log.items]
        # Finished without a per-tag answer: the whole upload failed before reaching the tags.
        return [(tag, UploadOutcome.ERROR, log.status_text) for tag in upload.destination_tags]
