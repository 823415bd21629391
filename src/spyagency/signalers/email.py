"""Alerts and readiness signals as plain-text e-mail, sent with aiosmtplib.

One message per outbox row, to a fixed list of operators. Subjects are short enough for a
phone notification: ``[spyagency] critical Run 362000 stuck in harvesting``,
``[spyagency] resolved Run 362000 stuck in harvesting`` or ``[spyagency] run 362000 ready``.
The Message-ID is derived from the idempotency key, so a retried send that did arrive twice
is recognisable as the same message by mail clients.

SMTP answers are classified like HTTP ones: a refused recipient or any 5xx reply is
permanent; 4xx replies, timeouts and connection errors are worth another try. When some
recipients accept and others refuse, the message counts as delivered (retrying would mail
the others twice) and the refusals are reported in ``extra["refused"]``.

>>> import asyncio
>>> from datetime import UTC, datetime
>>> from spyagency.signalers.channel import OutboundMessage
>>> channel = EmailChannel("smtp.example", sender="spyagency@example", recipients=[])
>>> message = OutboundMessage(
...     id=1, channel="email", kind="signal", idempotency_key="ready:362000:1",
...     payload={"run": 362000, "verdict": "ready"}, created_at=datetime.now(UTC))
>>> asyncio.run(channel.send(message)).detail
'email: no recipients configured'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from spyagency.signalers.alertmanager import AlertNotice
from spyagency.signalers.channel import Delivery, DeliveryResult, OutboundMessage
from spyagency.signalers.tier0_webhook import DEFAULT_TIMEOUT_SECONDS, ReadinessSignal

SUBJECT_PREFIX = "[spyagency]"


def _one_line(text: str) -> str:
    # Header values may not contain line breaks; a summary is one line by intent anyway.
    return " ".join(text.split())


def _facts(pairs: Sequence[tuple[str, object]]) -> str:
    shown = [(label, value) for label, value in pairs if value not in (None, "")]
    width = max((len(label) for label, _ in shown), default=0) + 1
    return "\n".join(f"{label + ':':<{width}} {value}" for label, value in shown)


def alert_subject(notice: AlertNotice) -> str:
    """``[spyagency] <severity> <summary>``; resolved alerts say so instead of the severity."""
    status = "resolved" if notice.resolved else notice.severity
    return _one_line(f"{SUBJECT_PREFIX} {status} {notice.summary}")


def alert_body(notice: AlertNotice) -> str:
    facts = _facts(
        [
            ("state", notice.state),
            ("severity", notice.severity),
            ("kind", notice.kind),
            ("run", notice.run),
            ("workflow", notice.workflow),
            ("source", notice.source),
            ("opened", notice.opened_at.isoformat()),
            ("resolved", notice.resolved_at.isoformat() if notice.resolved_at else None),
            ("link", notice.url),
            ("runbook", notice.runbook_url),
        ]
    )
    parts = [notice.summary, notice.description, facts]
    return "\n\n".join(part for part in parts if part) + "\n"


def signal_subject(signal: ReadinessSignal) -> str:
    return f"{SUBJECT_PREFIX} run {signal.run} {_one_line(signal.verdict)}"


def signal_body(signal: ReadinessSignal) -> str:
    headline = (
        f"Run {signal.run} is ready: its calibrations are in the conditions database "
        "and the Tier-0 may release PromptReco."
        if signal.verdict == "ready"
        else f"Run {signal.run}: {signal.verdict}."
    )
    facts = _facts(
        [
            ("run", signal.run),
            ("verdict", signal.verdict),
            ("decided", signal.decided_at),
            ("link", signal.evidence_url),
        ]
    )
    return f"{headline}\n\n{facts}\n"


def _smtp_outcome(code: int) -> Delivery:
    return Delivery.PERMANENT if 500 <= code < 600 else Delivery.TRANSIENT


class EmailChannel:
    """Channel ``email``: plain-text mail to ``recipients`` through one SMTP server.

    >>> EmailChannel("smtp.cern.ch", 587, sender="pcl@cern.ch", recipients=["ops@cern.ch"],
    ...              starttls=True, username="pcl", password="secret").name
    'email'
    """

    def __init__(
        self,
        host: str | None,
        port: int = 25,
        *,
        sender: str | None,
        recipients: Sequence[str],
        starttls: bool = False,
        use_tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        validate_certs: bool = True,
        # The EHLO name; None lets aiosmtplib ask the host (one DNS lookup, cached).
        local_hostname: str | None = None,
        name: str = "email",
    ) -> None:
        self.name = name
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = [address for address in recipients if address]
        self._starttls = starttls
        self._use_tls = use_tls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._validate_certs = validate_certs
        self._local_hostname = local_hostname

    def _configuration_problem(self) -> str | None:
        if not self._host:
            return "email: no SMTP host configured"
        if not self._sender:
            return "email: no sender configured"
        if not self._recipients:
            return "email: no recipients configured"
        if (self._username is None) != (self._password is None):
            return "email: username and password go together"
        if self._starttls and self._use_tls:
            return "email: choose STARTTLS or implicit TLS, not both"
        return None

    def compose(self, message: OutboundMessage) -> EmailMessage:
        """The e-mail for ``message``; raises ``ValueError`` for a payload it cannot read."""
        if message.kind == "alert":
            notice = AlertNotice.from_payload(
                message.payload, run=message.run, created_at=message.created_at
            )
            subject, body = alert_subject(notice), alert_body(notice)
        elif message.kind == "signal":
            signal = ReadinessSignal.from_payload(message.payload, run=message.run)
            subject, body = signal_subject(signal), signal_body(signal)
        else:
            raise ValueError(f"unknown message kind {message.kind!r}")
        created = message.created_at
        mail = EmailMessage()
        mail["From"] = self._sender or ""
        mail["To"] = ", ".join(self._recipients)
        mail["Subject"] = subject
        mail["Date"] = format_datetime(created if created.tzinfo else created.replace(tzinfo=UTC))
        digest = hashlib.sha256(message.idempotency_key.encode("utf-8")).hexdigest()[:40]
        mail["Message-ID"] = f"<{digest}@spyagency>"
        mail["X-SpyAgency-Kind"] = message.kind
        mail.set_content(body)
        return mail

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        problem = self._configuration_problem()
        if problem:
            return DeliveryResult(Delivery.PERMANENT, problem)
        try:
            mail = self.compose(message)
        except (TypeError, ValueError) as exc:
            return DeliveryResult(Delivery.PERMANENT, f"email: cannot compose: {exc}")
        try:
            refused, reply = await aiosmtplib.send(
                mail,
                sender=self._sender,
                recipients=self._recipients,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                use_tls=self._use_tls,
                validate_certs=self._validate_certs,
                timeout=self._timeout,
                local_hostname=self._local_hostname,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused; a temporary refusal (greylisting) may pass next time.
            codes = [refusal.code for refusal in exc.recipients]
            outcome = (
                Delivery.TRANSIENT if any(400 <= c < 500 for c in codes) else Delivery.PERMANENT
            )
            why = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            return DeliveryResult(outcome, f"email: recipients refused: {why}")
        except aiosmtplib.SMTPResponseException as exc:
            return DeliveryResult(
                _smtp_outcome(exc.code),
                f"email: SMTP {exc.code} {exc.message}",
                extra={"smtp_code": exc.code},
            )
        except (TimeoutError, ConnectionError, OSError) as exc:
            # aiosmtplib's timeout and connection errors derive from these.
            return DeliveryResult(Delivery.TRANSIENT, f"email: {type(exc).__name__}: {exc}")
        except aiosmtplib.SMTPException as exc:
            # What is left is the server lacking STARTTLS or AUTH: a configuration mismatch.
            return DeliveryResult(Delivery.PERMANENT, f"email: {exc}")
        except Exception as exc:
            return DeliveryResult(Delivery.TRANSIENT, f"email: unexpected error: {exc!r}")
        if refused:
            details = {address: f"{r.code} {r.message}" for address, r in refused.items()}
            return DeliveryResult(
                Delivery.DELIVERED,
                f"email: delivered, but refused for {', '.join(sorted(details))}",
                extra={"refused": details},
            )
        return DeliveryResult(Delivery.DELIVERED, f"email: {reply}")

    async def aclose(self) -> None:
        """Nothing to release: each send opens and closes its own SMTP connection."""
