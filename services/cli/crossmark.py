"""How the CLI names the Crossmark it talks to, and prints an action's result."""
from __future__ import annotations

import json

from services.actions.executor import ActionResult
from services.cli.arguments import EXIT_FAILED, EXIT_IN_PROGRESS, EXIT_NEEDS_ATTENTION, EXIT_OK


def crossmark_label(settings) -> str:  # noqa: ANN001 - Settings
    """How CLI output names the Crossmark it talks to: the sandbox is always labelled as such."""
    if settings.is_sandbox:
        return "Crossmark: SANDBOX (in-process stand-in; nothing is sent to Crossmark)"
    return f"Crossmark: {settings.crossmark_base_url}"


def exit_code(status: str) -> int:
    return {"done": EXIT_OK, "needs_attention": EXIT_NEEDS_ATTENTION, "stuck": EXIT_NEEDS_ATTENTION,
            "in_progress": EXIT_IN_PROGRESS}.get(status, EXIT_FAILED)


def print_result(result: ActionResult, as_json: bool, crossmark: str) -> None:
    if as_json:
        print(json.dumps({**result.to_json(), "crossmark": crossmark}))
        return
    print(f"Operation {result.operation_id}: {result.status.upper()} — {result.message}")
    for event in result.events:
        who = (f" (employee {event.before_employee or '-'} -> {event.after_employee or '-'})"
               if event.before_employee != event.after_employee else "")
        print(f"  {event.role:<10} {event.ref}: {event.before or 'unscheduled'} -> {event.after or 'unscheduled'}{who}")
