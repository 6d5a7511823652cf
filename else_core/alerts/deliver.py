"""Sending an alert event: an e-mail through an SMTP relay, or a JSON POST to a webhook.

Each send has a timeout and raises :class:`DeliveryError` with a one-line reason; the
caller records it and retries later (:func:`else_core.alerts.store.delivery_failed`).
"""

from __future__ import annotations

import json
import smtplib
import socket
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from else_core.alerts.store import Pending
from else_core.config import AlertsSection

_WORDS = {
    "opened": "OPEN",
    "reminder": "STILL OPEN",
    "resolved": "RESOLVED",
    "acknowledged": "ACKNOWLEDGED",
}


class DeliveryError(Exception):
    """A message could not be handed over (relay down, webhook refused or silent)."""


def payload(p: Pending, base_url: str = "") -> dict[str, Any]:
    """The webhook's JSON body (stable keys; docs/alerts.md)."""
    link = f"{base_url.rstrip('/')}/alerts/{p.alert_id}" if base_url else None
    return {
        "event": p.event,
        "at": p.at.isoformat(),
        "alert": p.alert_id,
        "rule": p.rule,
        "kind": p.kind,
        "subject": p.subject,
        "state": p.state,
        "value": p.value,
        "threshold": p.threshold,
        "text": f"[ELSE {_WORDS.get(p.event, p.event)}] {p.rule}: {p.detail}",
        "url": link,
    }


def message(p: Pending, settings: AlertsSection, base_url: str = "") -> EmailMessage:
    body = payload(p, base_url)
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = p.target
    msg["Subject"] = f"[ELSE {_WORDS.get(p.event, p.event)}] {p.rule}: {p.subject}"
    msg["Date"] = format_datetime(p.at)
    msg["Message-ID"] = make_msgid("else-alert")
    msg["X-ELSE-Alert"] = f"{p.alert_id} {p.event}"
    lines = [
        body["text"],
        "",
        f"rule:      {p.rule} ({p.kind}, threshold {p.threshold:g})",
        f"subject:   {p.subject}",
        f"value:     {'-' if p.value is None else f'{p.value:g}'}",
        f"event:     {p.event} at {p.at:%Y-%m-%d %H:%M:%S %Z}",
        f"alert:     {p.alert_id} (now {p.state})",
    ]
    if body["url"]:
        lines.append(f"details:   {body['url']}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(p: Pending, settings: AlertsSection, base_url: str = "") -> None:
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
        ) as smtp:
            smtp.send_message(message(p, settings, base_url))
    except (smtplib.SMTPException, OSError) as exc:
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        raise DeliveryError(f"SMTP relay {where}: {_reason(exc)}") from None


def send_webhook(p: Pending, settings: AlertsSection, base_url: str = "") -> None:
    data = json.dumps(payload(p, base_url)).encode()
    req = urllib.request.Request(  # noqa: S310 - the scheme is checked by `config check`
        p.target,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "ELSE-alerts"},
    )
    try:
        with urllib.request.urlopen(req, timeout=settings.webhook_timeout) as resp:  # noqa: S310
            resp.read(1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook {p.target}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DeliveryError(f"webhook {p.target}: {_reason(reason)}") from None


def _reason(exc: object) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        return (
            f"{exc.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
        )
    return " ".join(str(exc).split()) or type(exc).__name__


def send(p: Pending, settings: AlertsSection, base_url: str = "") -> None:
    if p.channel == "email":
        send_email(p, settings, base_url)
    else:
        send_webhook(p, settings, base_url)
