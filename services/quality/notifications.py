"""Notifications layer: tell people about new critical findings by Slack incoming webhook and by e-mail (SMTP)."""
from __future__ import annotations

import smtplib
import ssl
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Sequence

import httpx

from services.settings import Settings

ITEMS_PER_RULE = 5
FAILURE_MARK = "FAILED"  # starts each failed channel in a delivery's summary (a check run's `notification`)
SLACK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str  # the e-mail (its plain-text part when there is an HTML one) and, escaped, the Slack message
    html: str | None = None  # an HTML part: the e-mail is then multipart/alternative (text, then HTML)
    slack: str | None = None  # a Slack message of its own (a digest's summary), already mrkdwn with its data escaped


@dataclass
class Delivery:
    sent: list[str] = field(default_factory=list)  # channels that took the message
    failed: list[str] = field(default_factory=list)  # "channel: reason"

    def summary(self) -> str:
        parts = [f"sent by {', '.join(self.sent)}"] if self.sent else []
        parts += [f"{FAILURE_MARK} {failure}" for failure in self.failed]
        return "; ".join(parts) or "no channel configured"


def compose(findings: Sequence, run_id: int, dashboard_url: str,  # noqa: ANN001 - Finding-like rows
            overdue: Sequence = ()) -> Notice:
    """One message per run: the new findings (counts per rule, then the first items of each rule), then those overdue
    for their SLA (likewise, with their owner), with links to the dashboard."""
    lines = []
    if findings:
        lines.append(f"{len(findings)} new finding(s) in data-quality run {run_id}:")
        lines += _by_rule(findings, dashboard_url)
    if overdue:
        lines.append(("\n" if lines else "") + f"{len(overdue)} finding(s) overdue (past their due-by, still open):")
        lines += _by_rule(overdue, dashboard_url, owners=True)
    lines.append(f"\nReview: {dashboard_url}/data_quality")
    subject = (f"[field events] {len(findings)} new critical data-quality finding(s)" if not overdue else
               f"[field events] data-quality run {run_id}: {len(findings)} new, {len(overdue)} overdue finding(s)")
    return Notice(subject, "\n".join(lines))


def _by_rule(findings: Sequence, dashboard_url: str, owners: bool = False) -> list[str]:  # noqa: ANN001
    counts = Counter(finding.rule for finding in findings)
    lines = [f"• {rule}: {count}" for rule, count in counts.most_common()]
    for rule, count in counts.most_common():
        lines.append(f"\n{rule}:")
        for finding in [f for f in findings if f.rule == rule][:ITEMS_PER_RULE]:
            link = f"{dashboard_url}/day?date={finding.day.isoformat()}" if finding.day else dashboard_url
            owner = f" [owner: {getattr(finding, 'owner', None) or 'nobody'}]" if owners else ""
            lines.append(f"  - {finding.detail}{owner} ({link})")
        if count > ITEMS_PER_RULE:
            lines.append(f"  … and {count - ITEMS_PER_RULE} more")
    return lines


def compose_stuck(record, dashboard_url: str) -> Notice:  # noqa: ANN001 - journal.OperationRecord
    """One operation whose automatic retries gave up: what it was, each event and where it stands (the operation's
    last message says where each is in Crossmark and in our database), and what to do."""
    events = ", ".join(f"{event.get('role', 'event')} {event.get('ref')}" for event in record.events) or "no events"
    lines = [f"Operation {record.id} ({record.kind.replace('_', ' ')} by {record.requested_by}, "
             f"{record.requested_at:%Y-%m-%d %H:%M}) is STUCK after {record.attempts} automatic attempt(s).",
             f"Events: {events}.",
             f"Where they stand: {record.message or 'see the operation'}",
             "What to do: look at the events in Crossmark and on the dashboard; when Crossmark answers again, an admin "
             "clicks Retry now (or runs: python -m services retry --operation "
             f"{record.id} --user NAME); if it was put right by hand, Release it with a note.",
             f"Operations: {dashboard_url}/operations"]
    return Notice(f"[field events] operation {record.id} is stuck and keeps its events locked", "\n".join(lines))


def deliver(notice: Notice, settings: Settings) -> Delivery:
    """Send by every configured channel; a failing channel is reported, never raised. A failure is recorded as its
    kind only (see slack_failure, mail_failure): the text of an error may carry the webhook's secret URL or a mail
    server's echo of the credentials, and the run's notification is shown to every viewer and printed by the CLI."""
    delivery = Delivery()
    if settings.slack_webhook_url:
        try:
            response = httpx.post(settings.slack_webhook_url, json={"text": slack_text(notice)}, timeout=SLACK_TIMEOUT)
            response.raise_for_status()
            delivery.sent.append("slack")
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            delivery.failed.append(f"slack: {slack_failure(error)}")
    if settings.smtp_host and settings.smtp_to:
        try:
            _send_mail(notice, settings)
            delivery.sent.append("email")
        except OSError as error:  # smtplib.SMTPException and ssl.SSLError are OSErrors too
            delivery.failed.append(f"email: {mail_failure(error)}")
    return delivery


def slack_text(notice: Notice) -> str:
    """The message in Slack's mrkdwn with &, < and > escaped: an event name like `<!channel>` or `<http://x|click>`
    stays text instead of pinging everyone or becoming a link. A notice with a Slack message of its own (escaped by
    its author, who may link with <url|label>) is sent as it is."""
    if notice.slack is not None:
        return notice.slack
    return f"*{slack_escape(notice.subject)}*\n{slack_escape(notice.text)}"


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_failure(error: Exception) -> str:
    """What went wrong, without the error's text: httpx names the request URL (the webhook's secret path) in it."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        return "connection failed"
    if isinstance(error, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return "invalid webhook URL"
    return type(error).__name__


def mail_failure(error: OSError) -> str:
    """What went wrong, with the SMTP reply code but not the reply's text, which some servers fill with the user
    name or the credentials they were given."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__} (SMTP {error.smtp_code})"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in error.recipients.values()})
        return f"recipients refused (SMTP {', '.join(map(str, codes))})"
    if isinstance(error, smtplib.SMTPException):
        return type(error).__name__  # e.g. SMTPNotSupportedError: no STARTTLS or no AUTH offered
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ssl.SSLError):
        return "TLS failed"
    return "connection failed"


def _send_mail(notice: Notice, settings: Settings) -> None:
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = settings.smtp_from or f"field-events@{settings.smtp_host}"
    message["To"] = ", ".join(settings.smtp_to)
    message.set_content(notice.text)
    if notice.html is not None:  # mail programs show the last part they can: the HTML, else the text
        message.add_alternative(notice.html, subtype="html")
    # Why the ignore below: smtp_host is optional in Settings, but deliver() calls this only when it is set.
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:  # type: ignore[arg-type]
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)
