"""Demo timings for ``ombuds dev --demo``: the policies as written, but with their follow-ups
(the survey, its reminder, the thank-you and the check-in call) minutes after resolution
instead of days, so a person can work a case from intake to survey in one sitting.

The copies are written under ``<home>/demo-policies`` with a version ending in ``-demo`` (a
case records which it ran under); the shipped files are never changed.  Only the lines of
those settings change, so every other line reads as in the original.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Each follow-up section's demo timings.
TIMINGS = {
    "survey": {"after": "1 minute", "reminder_after": "5 minutes"},
    "thank_you": {"after": "10 minutes"},
    "check_in_call": {"after": "10 minutes"},
}
_TOP = re.compile(r"^(\w+):")
_SECTION = re.compile(r"^  (\w+):\s*$")
_SETTING = re.compile(r"^(    (\w+):\s*)(\S.*?)\s*$")
_VERSION = re.compile(r'^(  version:\s*)"?([^"\s]+)"?\s*$')
_DIR = re.compile(r"^(  dir:\s*)(\S+)\s*$")


def demo_policies(source: Path, home: Path) -> Path:
    """The folder of demo copies of the policies in ``source``."""
    target = home / "demo-policies"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.y*ml"):
        old.unlink()
    for path in sorted(source.glob("*.y*ml")):
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # validation reports it on the shipped file
        (target / path.name).write_text(demo(text, path.parent), "utf-8")
    return target


def demo(text: str, folder: Path) -> str:
    """One policy's text with demo timings, its templates read from where the original reads them."""
    lines = text.splitlines()
    top = section = ""
    for i, line in enumerate(lines):
        if found := _TOP.match(line):
            top, section = found.group(1), ""
            continue
        if top == "policy" and (version := _VERSION.match(line)):
            lines[i] = f'{version.group(1)}"{version.group(2)}-demo"'
        elif top == "templates" and (where := _DIR.match(line)):
            lines[i] = f"{where.group(1)}{(folder / where.group(2)).resolve()}/"
        elif top == "follow_up":
            if heading := _SECTION.match(line):
                section = heading.group(1)
            elif (setting := _SETTING.match(line)) and setting.group(2) in TIMINGS.get(section, {}):
                lines[i] = f"{setting.group(1)}{TIMINGS[section][setting.group(2)]}"
    return "\n".join(lines) + "\n"
