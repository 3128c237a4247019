"""Scrub secrets from stored delivery failures (issue 17).

Before this revision a failed Slack or e-mail delivery was recorded on its data-quality run as
`FAILED slack: <exception class>: <the exception's text>`. httpx puts the request URL in that text, and the URL of a
Slack webhook is its secret; an SMTP server's reply may echo the user name or the credentials it was given. The Data
quality page shows the latest run's notification to every viewer. Each such failure is rewritten to what the code
records now: the kind of failure and the status code (`FAILED slack: HTTP 404`, `FAILED slack: connection failed`,
`FAILED email: SMTPAuthenticationError (SMTP 535)`), and any URL or hooks.slack.com path left in the text is replaced.

dashboard_check_runs.notification is the only place in the database that holds delivery failures: a stuck
operation's alert is only logged (and the log masks webhook paths and secrets).

Frozen: literal SQL names and rules, nothing imported from `services`. Downgrade leaves the rows as they are: what was
removed cannot be put back, and the earlier code reads the new text as well.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CHECK_RUNS = sa.table("dashboard_check_runs", sa.column("id", sa.Integer), sa.column("notification", sa.Text))
REDACTED = "[address removed]"
# One failure as the old code wrote it, up to the next failure or the end of the summary.
OLD_FAILURE = re.compile(r"\b(slack|email): ([A-Za-z_][A-Za-z0-9_.]*): (.*?)(?=; FAILED (?:slack|email): |\Z)",
                         re.DOTALL)
ADDRESSES = (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]*", re.IGNORECASE),
             re.compile(r"\bhooks\.slack\.com/[^\s'\"<>]*", re.IGNORECASE))
HTTP_STATUS = re.compile(r"'(\d{3}) ")  # httpx: "Client error '404 Not Found' for url '...'"
SMTP_CODES = re.compile(r"\((\d{3}), b")  # smtplib: "(535, b'...')", per recipient for SMTPRecipientsRefused
SLACK_KINDS = {"ConnectError": "connection failed", "UnsupportedProtocol": "invalid webhook URL",
               "InvalidURL": "invalid webhook URL"}


def _slack_kind(exception: str, text: str) -> str:
    status = HTTP_STATUS.search(text)
    if exception == "HTTPStatusError" and status:
        return f"HTTP {status.group(1)}"
    if exception.endswith("Timeout"):
        return "timeout"
    return SLACK_KINDS.get(exception, exception)


def _email_kind(exception: str, text: str) -> str:
    codes = sorted(set(SMTP_CODES.findall(text)))
    if exception == "SMTPRecipientsRefused":
        return f"recipients refused (SMTP {', '.join(codes)})" if codes else "recipients refused"
    if exception.startswith("SMTP"):
        return f"{exception} (SMTP {codes[0]})" if codes else exception
    if exception in ("TimeoutError", "timeout"):
        return "timeout"
    if exception.startswith("SSL"):
        return "TLS failed"
    return "connection failed"


def scrubbed(notification: str) -> str:
    def kind_only(match: re.Match[str]) -> str:
        channel, exception, text = match.groups()
        return f"{channel}: {(_slack_kind if channel == 'slack' else _email_kind)(exception, text)}"

    text = OLD_FAILURE.sub(kind_only, notification)
    for address in ADDRESSES:
        text = address.sub(REDACTED, text)
    return text


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(CHECK_RUNS.c.id, CHECK_RUNS.c.notification).where(sa.or_(
        CHECK_RUNS.c.notification.like("%FAILED %"), CHECK_RUNS.c.notification.like("%://%"),
        CHECK_RUNS.c.notification.ilike("%hooks.slack.com%")))).all()
    for run_id, notification in rows:
        clean = scrubbed(notification)
        if clean != notification:
            connection.execute(sa.update(CHECK_RUNS).where(CHECK_RUNS.c.id == run_id).values(notification=clean))


def downgrade() -> None:
    pass
