"""The outcome of the last `run` or `retrain` iteration: its exit code, and a small JSON file beside the outputs.

A scheduler sees the exit code (cron mails a command's output, systemd starts ``OnFailure=``);
monitoring reads ``OUTPUT/status.json``; ``runs`` shows it. Free of TensorFlow imports: an
iteration with nothing new writes it without loading them.
"""

import datetime
import json
import os
from typing import Any, Dict, List, Optional

from pipeline import layout

# Exit codes besides 0 (pushed, already served, or nothing new) and the errors' (pipeline/cli/__init__.py).
EXIT_REFUSED = 5  # the Evaluator did not bless the model: nothing pushed, the served model stays
EXIT_DATA_WARNING = 6  # a data warning (e.g. the newest span scores far worse): look at the data, whatever the verdict

# The digest of the settings a run was made with (``RunSettings.settings_digest``): an iteration with other settings
# is not "nothing new".
SETTINGS_DIGEST = "settings_digest"

PUSHED = "pushed"
ALREADY_SERVED = "blessed, already served"
REFUSED = "refused"
NOTHING_NEW = "nothing new"
FAILED = "failed"


def exit_code(outcome: str, warnings: List[str]) -> int:
    """The exit code of an iteration that finished: a data warning first, as it names what to fix."""
    if warnings:
        return EXIT_DATA_WARNING
    return EXIT_REFUSED if outcome == REFUSED else 0


def write(output_dir: str, command: str, outcome: str, **details: Any) -> Dict[str, Any]:
    """Writes ``status.json`` (replaced in one step: a reader never sees half a file) and returns its content."""
    warnings = details.pop("warnings", [])
    status = {"command": command, "outcome": outcome, "exit_code": details.pop("exit_code", None),
              "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "warnings": warnings, **details}
    if status["exit_code"] is None:
        status["exit_code"] = exit_code(outcome, warnings)
    path = layout.output_paths(output_dir).status
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(status, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)
    return status


def read(output_dir: str) -> Optional[Dict[str, Any]]:
    """The last iteration's status, None when no iteration wrote one."""
    path = layout.output_paths(output_dir).status
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def describe(status: Dict[str, Any]) -> str:
    """One line: when, what, and the exit code."""
    parts = [f"Last iteration ({status['command']}, {status['finished']}): {status['outcome']}"]
    if status.get("span") is not None:
        parts.append(f"span {status['span']}")
    if status.get("pushed_version"):
        parts.append(f"pushed version {status['pushed_version']}")
    parts.append(f"exit code {status['exit_code']}")
    line = ", ".join(parts)
    for warning in status.get("warnings", []):
        line += f"\n  WARNING: {warning}"
    if status.get("error"):
        line += f"\n  error: {status['error']}"
    return line
