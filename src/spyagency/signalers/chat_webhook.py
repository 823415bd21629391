"""Alerts and readiness signals to a chat room through an incoming webhook.

Mattermost and Slack incoming webhooks both accept ``POST {"text": "..."}``. The text is a
one-line headline, then the description on the next lines::

    [CRITICAL] Run 362000 stuck in harvesting (run 362000, workflow SiStripGains) https://agency/runs/362000
    The harvesting job has been running for 7 h; the budget is 6 h.

Formatting stays in the subset both products render the same way: plain words, bare links
(both make them clickable), square-bracketed status. Webhook URLs embed their token, so
they never appear in a delivery result.

>>> text = chat_text_for_signal(ReadinessSignal(run=362000, evidence_url="https://agency/r/1"))
>>> text
'[READY] Run 362000 is ready for PromptReco https://agency/r/1'
"""

from __future__ import annotations

import httpx2

from spyagency.signalers.alertmanager import AlertNotice
from spyagency.signalers.channel import Delivery, DeliveryResult, OutboundMessage
from spyagency.signalers.signing import canonical_json
from spyagency.signalers.tier0_webhook import (
    DEFAULT_TIMEOUT_SECONDS,
    JsonPoster,
    ReadinessSignal,
)


def chat_text_for_alert(notice: AlertNotice) -> str:
    """``[SEVERITY] summary (run, workflow, source) link`` and the description below it."""
    status = "RESOLVED" if notice.resolved else notice.severity.upper()
    where = [
        f"{label} {value}"
        for label, value in (
            ("run", notice.run),
            ("workflow", notice.workflow),
            ("source", notice.source),
        )
        if value is not None
    ]
    headline = f"[{status}] {' '.join(notice.summary.split())}"
    if where:
        headline += f" ({', '.join(where)})"
    if notice.url:
        headline += f" {notice.url}"
    return f"{headline}\n{notice.description}" if notice.description else headline


def chat_text_for_signal(signal: ReadinessSignal) -> str:
    if signal.verdict == "ready":
        headline = f"[READY] Run {signal.run} is ready for PromptReco"
    else:
        headline = f"[{signal.verdict.upper()}] Run {signal.run}"
    return f"{headline} {signal.evidence_url}" if signal.evidence_url else headline


class ChatWebhookChannel:
    """Channel ``webhook``: one chat message per outbox row.

    >>> ChatWebhookChannel("https://mattermost.cern.ch/hooks/abc", username="spyagency").name
    'webhook'
    """

    def __init__(
        self,
        url: str | None,
        *,
        client: httpx2.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        username: str | None = None,
        user_agent: str | None = None,
        name: str = "webhook",
    ) -> None:
        self.name = name
        self._url = url
        # Mattermost shows it when the hook allows overriding; Slack app webhooks ignore it.
        self._username = username
        self._poster = JsonPoster(client=client, timeout=timeout, user_agent=user_agent)

    def text_for(self, message: OutboundMessage) -> str:
        """The chat text for ``message``; raises ``ValueError`` for a payload it cannot read."""
        if message.kind == "alert":
            notice = AlertNotice.from_payload(
                message.payload, run=message.run, created_at=message.created_at
            )
            return chat_text_for_alert(notice)
        if message.kind == "signal":
            return chat_text_for_signal(ReadinessSignal.from_payload(message.payload, message.run))
        raise ValueError(f"unknown message kind {message.kind!r}")

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not self._url:
            return DeliveryResult(Delivery.PERMANENT, "webhook: no URL configured")
        try:
            body: dict[str, str] = {"text": self.text_for(message)}
        except (TypeError, ValueError) as exc:
            return DeliveryResult(Delivery.PERMANENT, f"webhook: bad payload: {exc}")
        if self._username:
            body["username"] = self._username
        return await self._poster.post(self._url, canonical_json(body))

    async def aclose(self) -> None:
        await self._poster.aclose()
