"""One broken policy, many precise messages.

Every case below applies a small edit to the text of
``policies/financial-services.yaml`` (copied with its templates into a
temporary folder) and expects one located problem: the line and column it
points at, a fragment of its message and, where one helps, of its hint.  The
table covers every semantic check of ``validate._Checker``, every kind of
schema error ``schema.located`` words, and the template checks.

Each case also names the text that must start at the expected line and column
of the edited file, so the table cannot silently drift from the example
policy.  Unless a case says otherwise the edit must produce exactly the
problems it lists: a typo that drags unrelated follow-on messages along fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ombuds.engine.cli import app
from ombuds.engine.policy import validate as validate_mod
from ombuds.engine.policy.errors import PolicyError
from ombuds.engine.policy.validate import Validated, validate_file

from .conftest import POLICIES, ROOT

SOURCE = POLICIES / "financial-services.yaml"
TEMPLATES = POLICIES / "templates" / "financial"
TODAY = dt.date(2026, 6, 1)  # after `effective`, before `review_by`
POLICY = "policy.yaml"


@dataclass(frozen=True)
class Expect:
    """One expected problem: where, what, and optionally the hint and severity."""

    line: int
    col: int
    anchor: str  # the text of the edited file that starts at (line, col)
    message: str
    hint: str | None = None
    severity: str = "error"
    file: str = POLICY  # or a template file name


@dataclass(frozen=True)
class Case:
    id: str
    edits: tuple[tuple[str, str], ...]
    expect: tuple[Expect, ...]
    today: dt.date = TODAY
    templates: tuple[tuple[str, str | bytes | None], ...] = ()  # file name -> new content, or None to delete


def case(
    id: str,
    old: str,
    new: str,
    line: int,
    col: int,
    anchor: str,
    message: str,
    hint: str | None = None,
    severity: str = "error",
    **extra: object,
) -> Case:
    """A case with one edit and one expected problem."""
    expect = (Expect(line, col, anchor, message, hint, severity),)
    return Case(id, ((old, new),), expect, **extra)  # type: ignore[arg-type]


def make_policy(folder: Path, case: Case) -> Path:
    """Write the example policy with the case's edits (and template edits) into ``folder``."""
    shutil.copytree(TEMPLATES, folder / "templates" / "financial")
    text = SOURCE.read_text("utf-8")
    for old, new in case.edits:
        assert text.count(old) == 1, f"edit target must occur exactly once: {old!r}"
        text = text.replace(old, new)
    for name, content in case.templates:
        target = folder / "templates" / "financial" / name
        if content is None:
            target.unlink()
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, "utf-8")
    path = folder / POLICY
    path.write_text(text, "utf-8")
    return path


def text_at(path: Path, line: int, col: int) -> str:
    lines = path.read_text("utf-8").split("\n")
    assert 1 <= line <= len(lines), f"line {line} is outside {path.name}"
    return lines[line - 1][col - 1 :]


def matches(problem: PolicyError, expect: Expect) -> bool:
    return (
        Path(problem.file).name == expect.file
        and (problem.line, problem.col) == (expect.line, expect.col)
        and expect.message in problem.message
        and (expect.hint is None or expect.hint in (problem.hint or ""))
        and problem.severity == expect.severity
    )


def describe(problems: list[PolicyError]) -> str:
    return "\n".join(p.render() for p in problems) or "(no problems)"


# --------------------------------------------------------------------------- the table

DID_YOU_MEAN = "did you mean"

SCHEMA_CASES = [
    case(
        "percentage-without-percent-sign",
        "      - at: 50%\n        notify: [sla-warning]\n      - before: 1 business day",
        "      - at: 50\n        notify: [sla-warning]\n      - before: 1 business day",
        120,
        13,
        "50",
        "expected text, found a number 50",
        "write 50%, with the % sign",
    ),
    case(
        "unquoted-version-is-a-number",
        '  version: "2026.1"',
        "  version: 2026.1",
        10,
        12,
        "2026.1",
        "expected text, found a number 2026.1",
        'put it in quotes, "2026.1"',
    ),
    case(
        "unknown-top-level-key",
        "\nescalation:\n",
        "\nescalaton:\n",
        218,
        1,
        "escalaton:",
        'unknown key "escalaton"',
        'did you mean "escalation"',
    ),
    case(
        "unknown-nested-key",
        "  retention_years: 5",
        "  retention_yeras: 5",
        311,
        3,
        "retention_yeras",
        'unknown key "retention_yeras"',
        'did you mean "retention_years"',
    ),
    case(
        "unknown-key-lists-allowed-keys",
        "    title: {en: Customer Support agent, de: Kundenservice}\n",
        "    title: {en: Customer Support agent, de: Kundenservice}\n    colour: red\n",
        193,
        5,
        "colour",
        'unknown key "colour"',
        "allowed keys: id, title, limits",
        # the edit adds a line: `limits` moves down by one
    ),
    case(
        "misspelt-required-key-is-one-problem",
        "  dir: templates/financial",
        "  dri: templates/financial",
        314,
        3,
        "dri",
        'unknown key "dri"',
        'did you mean "dir"',
    ),
    case(
        "misspelt-required-section-is-one-problem",
        "\ntemplates:\n",
        "\ntemplats:\n",
        313,
        1,
        "templats:",
        'unknown key "templats"',
        'did you mean "templates"',
    ),
    case(
        "wrong-type-number",
        "  priority: 20",
        "  priority: high",
        25,
        13,
        "high",
        'expected a whole number, found text "high"',
    ),
    case(
        "wrong-type-mapping",
        "  dir: templates/financial",
        "  - templates/financial",
        314,
        3,
        "- templates",
        "expected a mapping, found a list",
    ),
    case(
        "wrong-type-optional-field",
        "    title: {en: Received, de: Eingegangen}\n",
        "    title: [Received]\n",
        95,
        12,
        "[Received]",
        "expected text or a mapping, found a list",
    ),
    case(
        "bad-enum",
        "    kind: periodic_update",
        "    kind: periodic-update",
        148,
        11,
        "periodic-update",
        '"periodic-update" is not allowed here',
        'did you mean "periodic_update"',
    ),
    case(
        "bad-enum-of-wrong-type-says-it-once",
        "    kind: periodic_update",
        "    kind: true",
        148,
        11,
        "true",
        "true is not allowed here",
        "one of",
    ),
    case("bad-const", "ombuds: 1", "ombuds: 2", 6, 9, "2", "2 is not allowed here", "write 1"),
    case(
        "bad-duration",
        "    target: 5 business days",
        "    target: 5 bizness days",
        116,
        13,
        "5 bizness days",
        'unknown unit "bizness days"',
        "5 business days",
    ),
    case(
        "duration-without-number",
        "    after: 2 days",
        "    after: two days",
        296,
        12,
        "two days",
        '"two days" is not a duration',
        "a whole number and a unit",
    ),
    case(
        "bad-time-range",
        '      mon: ["09:00-17:30"]\n      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n'
        '      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n'
        "        subdivision: ENG",
        '      mon: ["9am-5:30pm"]\n      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n'
        '      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n'
        "        subdivision: ENG",
        31,
        13,
        '"9am-5:30pm"',
        '"9am-5:30pm" is not a time range',
        "HH:MM-HH:MM",
    ),
    case(
        "bad-time-of-day",
        "  locale_fallback: [en]",
        "  locale_fallback: [en]\n  quiet_hours: {start: 9pm}",
        280,
        24,
        "9pm",
        '"9pm" is not a time of day',
        "HH:MM",
    ),
    case(
        "bad-name",
        "  id: financial-services",
        "  id: Financial Services",
        9,
        7,
        "Financial Services",
        '"Financial Services" is not a valid name',
        "lower-case letters",
    ),
    case(
        "bad-percentage",
        "      - at: 75%",
        "      - at: three quarters",
        139,
        13,
        "three quarters",
        '"three quarters" is not a percentage',
        "75%",
    ),
    case(
        "bad-currency",
        "  currency: GBP",
        "  currency: pounds",
        17,
        13,
        "pounds",
        '"pounds" is not a currency code',
        "ISO 4217",
    ),
    case(
        "bad-country-code",
        "      - country: GB\n        subdivision: SCT",
        "      - country: Scotland\n        subdivision: SCT",
        49,
        18,
        "Scotland",
        '"Scotland" is not a country code',
        "ISO 3166",
    ),
    case(
        "bad-clock-event",
        "    starts: submitted\n    stops: [acknowledged]",
        "    starts: submited\n    stops: [acknowledged]",
        117,
        13,
        "submited",
        '"submited" is not a known event',
        "clock events",
    ),
    case(
        "bad-language-code",
        "  locale: en",
        "  locale: English",
        15,
        11,
        "English",
        '"English" is not a language code',
        '"en"',
    ),
    case(
        "bad-date",
        "  effective: 2026-01-01",
        "  effective: 2026-13-01",
        13,
        14,
        "2026-13-01",
        '"2026-13-01" is not a date',
        "YYYY-MM-DD",
    ),
    case("below-minimum", "  retention_years: 5", "  retention_years: 0", 311, 20, "0", "must be at least 1"),
    case(
        "above-maximum",
        "      max_coupons: 0\n",
        "      max_coupons: 0\n      max_discount_percent: 150\n",
        196,
        29,
        "150",
        "must be at most 100",
    ),
    case(
        "not-more-than-exclusive-minimum",
        "    closed: [2026-12-24]\n  scotland:",
        "    closed: [2026-12-24]\n    business_day_hours: 0\n  scotland:",
        40,
        25,
        "0",
        "must be more than 0",
    ),
    case(
        "empty-list",
        "  channels: [phone, email, chat, web, letter, in_person, messenger, social]",
        "  channels: []",
        60,
        13,
        "[]",
        "must not be empty",
    ),
    case("empty-text", '  version: "2026.1"', '  version: ""', 10, 12, '""', "must not be empty"),
    case(
        "too-long-text",
        "  - id: fees",
        "  - id: f" + "e" * 70,
        266,
        11,
        "feeee",
        "is too long: 71 characters, at most 64",
    ),
    case(
        "too-many-items",
        "    scale: [1, 5]",
        "    scale: [1, 5, 10]",
        299,
        12,
        "[1, 5, 10]",
        "may have at most 2 items, found 3",
    ),
    case(
        "wrong-type-inside-tuple",
        "    scale: [1, 5]",
        "    scale: [1, five]",
        299,
        16,
        "five",
        'expected a whole number, found text "five"',
    ),
    case(
        "unknown-weekday-key",
        '      mon: ["09:00-17:30"]\n      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n'
        '      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n'
        "        subdivision: SCT",
        '      mon: ["09:00-17:30"]\n      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n'
        '      thursday: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n'
        "        subdivision: SCT",
        46,
        7,
        "thursday",
        'unknown key "thursday"',
        'did you mean "thu"',
    ),
    case(
        "unknown-notification-event",
        "    refused: {template: refusal-generic}",
        "    refusd: {template: refusal-generic}",
        282,
        5,
        "refusd",
        'unknown key "refusd"',
        'did you mean "refused"',
    ),
    case(
        "invalid-mapping-key-name",
        "    redress: {kind: refund, title: {en: Financial redress for loss,",
        "    Redress: {kind: refund, title: {en: Financial redress for loss,",
        264,
        5,
        "Redress",
        '"Redress" is not a valid name',
        "lower-case letters",
    ),
    Case(
        "missing-required-key",
        (("  owner: Head of Complaints Handling Department\n", ""),),
        (Expect(8, 1, "policy:", 'missing required key "owner"'),),
    ),
    Case(
        "missing-required-key-in-list-item",
        (("    title: {en: Customer Support supervisor, de: Teamleitung Kundenservice}\n", ""),),
        (Expect(197, 5, "id: supervisor", 'missing required key "title"'),),
    ),
    Case(
        "missing-required-top-level-section",
        (("\ntemplates:\n  dir: templates/financial\n", "\n"),),
        (Expect(6, 1, "ombuds: 1", 'missing required key "templates"'),),
    ),
]

CEL_CASES = [
    case(
        "cel-not-true-or-false",
        '  when: complaint.product in ["current_account", "savings", "card", "loan", "mortgage"]',
        "  when: complaint.product",
        24,
        9,
        "complaint.product",
        "condition gives a string, not true or false",
        'compare it, e.g. complaint.amount > 100.0 or complaint.product == "card"',
    ),
    case(
        "cel-syntax-error",
        "    when: complaint.amount != null && complaint.amount >= 1000.0",
        "    when: complaint.amount != null & complaint.amount >= 1000.0",
        85,
        36,
        "& complaint",
        "CEL syntax error",
        '"&&"',
    ),
    case(
        "cel-syntax-error-at-the-end",
        "    when: complaint.amount != null && complaint.amount >= 1000.0",
        "    when: complaint.amount != null && complaint.amount >=",
        85,
        58,
        "",
        "CEL syntax error: the condition ends too early",
    ),
    case(
        "cel-unknown-field",
        "    when: has(complaint.custom.vulnerable) && complaint.custom.vulnerable == true",
        "    when: complaint.custmer.vulnerable == true",
        88,
        21,
        "custmer",
        'unknown field "custmer" in complaint',
        'did you mean "customer"',
    ),
    case(
        "cel-unknown-nested-field",
        '    - when: complaint.customer.region == "GB-SCT"',
        '    - when: complaint.customer.regon == "GB-SCT"',
        55,
        32,
        "regon",
        'unknown field "regon" in complaint.customer',
        'did you mean "region"',
    ),
    case(
        "cel-unknown-field-in-quoted-condition",
        '    when: case.category == "money"',
        "    when: 'case.categry == \"money\"'",
        267,
        19,
        "categry",
        'unknown field "categry" in case',
        'did you mean "category"',
    ),
    case(
        "cel-unknown-variable",
        "when: case.level_rank == 0}",
        "when: cas.level_rank == 0}",
        238,
        61,
        "cas.level_rank",
        'unknown variable "cas"',
        'did you mean "case"',
    ),
    Case(
        "cel-unknown-field-in-block-scalar",
        (
            (
                "    when: has(complaint.custom.vulnerable) && complaint.custom.vulnerable == true",
                '    when: >\n      has(complaint.custom.vulnerable) && complaint.custom.vulnerable == true\n      || complaint.customer.segmnt == "vip"',
            ),
        ),
        (
            Expect(
                90,
                29,
                "segmnt",
                'unknown field "segmnt" in complaint.customer',
                'did you mean "segment"',
            ),
        ),
    ),
    case(
        "cel-checks-applies-when",
        "    kind: hard_limit\n",
        '    kind: hard_limit\n    applies_when: complaint.chanel == "phone"\n',
        164,
        29,
        "chanel",
        'unknown field "chanel" in complaint',
        'did you mean "channel"',
    ),
]

REFERENCE_CASES = [
    case(
        "unknown-calendar",
        "    title: {en: Final response, de: Abschließende Antwort}\n    calendar: regional",
        "    title: {en: Final response, de: Abschließende Antwort}\n    calendar: regionl",
        128,
        15,
        "regionl",
        'unknown calendar "regionl"',
        'did you mean "regional"',
    ),
    case(
        "unknown-calendar-in-date",
        "    offset: 6 months\n    calendar: regional",
        "    offset: 6 months\n    calendar: regionall",
        175,
        15,
        "regionall",
        'unknown calendar "regionall"',
        DID_YOU_MEAN,
    ),
    case(
        "unknown-calendar-in-selector",
        "      calendar: scotland",
        "      calendar: scotlnd",
        56,
        17,
        "scotlnd",
        'unknown calendar "scotlnd"',
        'did you mean "scotland"',
    ),
    case(
        "unknown-level",
        "  - id: customer-asks\n    trigger: {on: customer_request}\n    to: complaints-department",
        "  - id: customer-asks\n    trigger: {on: customer_request}\n    to: complaints-dept",
        221,
        9,
        "complaints-dept",
        'unknown level "complaints-dept"',
        'did you mean "complaints-department"',
    ),
    case(
        "unknown-clock",
        "clock: acknowledge}",
        "clock: acknowledgement}",
        234,
        38,
        "acknowledgement}",
        'unknown clock "acknowledgement"',
        'did you mean "acknowledge"',
    ),
    case(
        "unknown-template",
        "    notify: received",
        "    notify: recieved",
        96,
        13,
        "recieved",
        'unknown template "recieved"',
        'did you mean "received"',
    ),
    case(
        "unknown-template-in-list",
        "        notify: [sla-warning]\n      - before",
        "        notify: [sla-warnings]\n      - before",
        121,
        18,
        "sla-warnings",
        'unknown template "sla-warnings"',
        'did you mean "sla-warning"',
    ),
    case(
        "unknown-remedy",
        "      remedies: [apology, goodwill, fee-refund]",
        "      remedies: [apology, goodwil, fee-refund]",
        196,
        27,
        "goodwil",
        'unknown remedy "goodwil"',
        'did you mean "goodwill"',
    ),
    case(
        "unknown-remedy-in-option-set",
        "      options: [fee-refund, goodwill]",
        "      options: [fee-refunds, goodwill]",
        268,
        17,
        "fee-refunds",
        'unknown remedy "fee-refunds"',
        'did you mean "fee-refund"',
    ),
    case(
        "unknown-stage",
        "    from: final_response",
        "    from: stage:investigaton",
        173,
        11,
        "stage:investigaton",
        'unknown stage "investigaton"',
        'did you mean "investigation"',
    ),
    case(
        "unknown-clock-event",
        "    from: final_response",
        "    from: clock:acknowlege:stopped",
        173,
        11,
        "clock:acknowlege",
        'unknown clock "acknowlege"',
        'did you mean "acknowledge"',
    ),
    case(
        "unknown-refusal",
        "  missing_information: incomplete",
        "  missing_information: incomplet",
        62,
        24,
        "incomplet",
        'unknown refusal "incomplet"',
        'did you mean "incomplete"',
    ),
    case(
        "sla-warning-trigger-names-an-unknown-warning",
        "    trigger: {on: sla_warning, clock: final-response, when: case.level_rank == 0}",
        "    trigger: {on: sla_warning, clock: final-response, warning: half, when: case.level_rank == 0}",
        238,
        64,
        "half",
        'clock "final-response" has no warning with id "half"',
    ),
    case(
        "custom-field-without-has-guard",
        "    when: has(complaint.custom.vulnerable) && complaint.custom.vulnerable == true",
        "    when: complaint.custom.vulnerable == true",
        88,
        11,
        "complaint.custom.vulnerable",
        "complaint.custom.vulnerable is an error for complaints without that field",
        "guard it: has(complaint.custom.vulnerable)",
        severity="warning",
    ),
    case(
        "cel-invalid-regular-expression",
        '    when: complaint.description.matches("(?i)fraud|unauthori[sz]ed|stolen")',
        '    when: complaint.description.matches("(?i(fraud")',
        82,
        42,
        "(?i(fraud",
        "invalid regular expression",
    ),
    case(
        "cel-equality-of-different-types",
        "    when: complaint.amount != null && complaint.amount >= 1000.0",
        "    when: complaint.product == 5 && complaint.amount >= 1000.0",
        85,
        32,
        "5",
        "complaint.product is a string, compared with 5 (an int): this is always false",
        "compare like with like",
    ),
    case(
        "cel-inequality-of-different-types-literal-first",
        "    when: complaint.amount != null && complaint.amount >= 1000.0",
        '    when: case.level_rank >= 0 && "yes" != case.acknowledged',
        85,
        35,
        '"yes"',
        'case.acknowledged is a bool, compared with "yes" (a string): this is always true',
        "compare like with like",
    ),
    case(
        "cel-type-mismatch",
        "    when: complaint.amount != null && complaint.amount >= 1000.0",
        '    when: complaint.amount != null && complaint.amount >= "1000"',
        85,
        11,
        "complaint.amount",
        "type mismatch",
        "compare like with like",
    ),
    case(
        "unknown-complaint-field-in-required",
        "  required: [customer.name, description]",
        "  required: [customer.name, descripton]",
        61,
        29,
        "descripton",
        'unknown complaint field "descripton"',
        'did you mean "description"',
    ),
]

SEMANTIC_CASES = [
    case(
        "duration-longer-than-ten-years",
        "    target: 3 months\n",
        "    target: 100000 months\n",
        165,
        13,
        "100000 months",
        '"100000 months" is longer than a policy may write: at most 120 months (about ten years)',
    ),
    case(
        "condition-null",
        '  when: complaint.product in ["current_account", "savings", "card", "loan", "mortgage"]',
        "  when: null",
        24,
        3,
        "when:",
        "`when` is empty, which would make the rule apply always",
        "write a condition, or leave `when` out for a rule that always applies",
    ),
    case(
        "control-character-in-a-title",
        "    title: {en: Written acknowledgement, de: Schriftliche Eingangsbestätigung}\n",
        '    title: "Written\\x1b[1m acknowledgement"\n',
        114,
        12,
        '"Written',
        "text has the control character U+001B",
        "remove it; only line breaks and tabs may be written in a policy",
    ),
    case(
        "warning-before-the-clock-starts",
        "      - before: 1 business day\n",
        "      - before: 5 business days\n",
        122,
        17,
        "5 business days",
        "a warning 5 business days before a deadline of 5 business days (target) falls before the clock starts",
        "make the warning shorter than the target, or give it as a share: at: 80%",
    ),
    case(
        "callbacks-without-a-reminder",
        "\nnotifications:\n",
        "\ncallbacks:\n  within: 1 business day\n  template: closed\n\nnotifications:\n",
        276,
        1,
        "callbacks:",
        "nobody is told when a callback falls due",
        "callbacks.reminder",
        severity="warning",
    ),
    case(
        "template-reads-what-its-message-lacks",
        "    notify: investigating\n",
        "    notify: extension\n",
        99,
        13,
        "extension",
        'template "extension" (de) reads new_date, reason, which the message sent here does not carry',
        "here it gets: case, complaint",
    ),
    case(
        "low-score-rule-never-fires-when-the-action-only-notifies",
        "action: escalate",
        "action: notify",
        254,
        19,
        "low_survey_score",
        "never fires: follow_up.survey.low_score.action is notify",
        "escalate or reopen",
        severity="warning",
    ),
    case(
        "amount-with-more-decimals-than-the-currency",
        "      max_amount: 50\n",
        "      max_amount: 50.005\n",
        194,
        19,
        "50.005",
        "50.005 has 3 decimals; GBP amounts have at most 2 decimals (ISO 4217)",
        "major units",
    ),
    case(
        "amount-that-yaml-would-round-as-a-float",
        "      max_amount: 50\n",
        "      max_amount: 49.9999999999999999\n",
        194,
        19,
        "49.9999999999999999",
        "49.9999999999999999 has 16 decimals; GBP amounts have at most 2 decimals (ISO 4217)",
        "major units",
    ),
    case(
        "amount-with-an-exponent",
        "      max_amount: 50\n",
        "      max_amount: 1E-30\n",
        194,
        19,
        "1E-30",
        "1E-30 has 30 decimals",
        "major units",
    ),
    case(
        "records-review-not-acted-on",
        "  retention_years: 5\n",
        "  retention_years: 5\n  review_every: 12 months\n",
        312,
        3,
        "review_every",
        "recorded, not yet acted on",
        severity="warning",
    ),
    case(
        "duplicate-option-set-id",
        "      template: options\n  caps:\n",
        "      template: options\n    - id: fees\n      options: [goodwill]\n  caps:\n",
        270,
        11,
        "fees",
        'duplicate id "fees"',
        "first used at compensation.option_sets[0]",
    ),
    case(
        "resolution-proposed-is-sent-by-nothing",
        "    refused: {template: refusal-generic}\n",
        "    refused: {template: refusal-generic}\n    resolution_proposed: {template: closed}\n",
        283,
        5,
        "resolution_proposed",
        "nothing sends resolution_proposed yet",
        "give the stage where that happens notify",
    ),
    case(
        "acknowledgement-clock-met-at-intake-by-default",
        "  acknowledge: at_intake\n",
        "",
        117,
        13,
        "acknowledged",
        'clock "acknowledge" stops on the acknowledgement, which is sent at intake by default',
        "intake.acknowledge: by_staff",
        severity="warning",
    ),
    Case(
        "review-date-passed",
        (),
        (
            Expect(
                14,
                14,
                "2027-01-01",
                "the review date 2027-01-01 has passed",
                "review the procedure",
                severity="warning",
            ),
        ),
        today=dt.date(2027, 3, 1),
    ),
    case(
        "review-before-effective",
        "  effective: 2026-01-01",
        "  effective: 2027-06-01",
        14,
        14,
        "2027-01-01",
        "review date is before the effective date",
    ),
    case(
        "default-locale-not-in-locales",
        "  locales: [en, de]",
        "  locales: [de]",
        16,
        3,
        "locales:",
        'default locale "en" is not listed in locales',
    ),
    case(
        "locale-fallback-not-in-locales",
        "  locale_fallback: [en]",
        "  locale_fallback: [fr]",
        279,
        21,
        "fr",
        'locale "fr" is not in policy.locales',
    ),
    case(
        "limits-shrink-amount",
        "      max_amount: 250",
        "      max_amount: 25",
        201,
        19,
        "25",
        'max amount 25 is lower than the level below ("agent": 50)',
        "limits must grow",
    ),
    case(
        "limits-shrink-coupons",
        "      max_coupons: 0\n",
        "      max_coupons: 2\n",
        # `agent` may give 2 coupons, `supervisor` (default 0) may not: shown at its `limits:`
        200,
        5,
        "limits:",
        'max coupons 0 is lower than the level below ("agent": 2)',
        "limits must grow",
    ),
    Case(
        "limits-shrink-remedies",
        (
            (
                "      remedies: [apology, goodwill, fee-refund, interest-correction]",
                "      remedies: [apology, fee-refund, interest-correction]",
            ),
        ),
        (
            Expect(
                202,
                7,
                "remedies:",
                'may not grant goodwill, which "agent" may',
                "every remedy of lower levels",
            ),
        ),
    ),
    case(
        "no-final-stage",
        "    final: true\n",
        "",
        93,
        1,
        "stages:",
        "no stage is marked final",
        "final: true",
        severity="warning",
    ),
    case(
        "unknown-handoff-template",
        "    handoff_template: handoff\n    limits:\n      max_amount: 50000",
        "    handoff_template: hand-off\n    limits:\n      max_amount: 50000",
        213,
        23,
        "hand-off",
        'unknown template "hand-off"',
        'did you mean "handoff"',
    ),
    case(
        "next-is-reserved",
        "  - id: management",
        "  - id: next",
        210,
        9,
        "next",
        '"next" is reserved',
    ),
    case(
        "unreachable-classification-after-catch-all",
        "  - id: default\n    set: {severity: medium, priority: P3, category: service, queue: customer-support}\n",
        "  - id: default\n    set: {severity: medium, priority: P3, category: service, queue: customer-support}\n"
        '  - id: late\n    when: case.queue == ""\n    set: {queue: leftovers}\n',
        92,
        5,
        "id: late",
        "unreachable: classification[3] has no condition and always matches first",
        severity="warning",
    ),
    case(
        "unreachable-classification-same-condition",
        "    when: has(complaint.custom.vulnerable) && complaint.custom.vulnerable == true",
        "    when: complaint.amount  !=  null &&   complaint.amount >= 1000.0",
        88,
        11,
        "complaint.amount",
        "unreachable: same condition as classification[1]",
        severity="warning",
    ),
    case(
        "classification-sets-nothing",
        "    set: {severity: high, priority: P2, category: service, queue: complaints}",
        "    set: {}",
        89,
        5,
        "set:",
        "rule sets nothing",
        "set severity, priority, category or queue",
    ),
    case(
        "unreachable-escalation-duplicate-trigger",
        "    trigger: {on: sla_breach, clock: final-response}",
        "    trigger: {on: sla_breach, clock: acknowledge}",
        241,
        5,
        "id: final-response-late",
        "unreachable: escalation[3] has the same trigger and fires first",
        severity="warning",
    ),
    case(
        "sla-trigger-needs-clock",
        "    trigger: {on: sla_breach, clock: final-response}",
        "    trigger: {on: sla_breach}",
        242,
        5,
        "trigger:",
        "sla_breach needs `clock`",
    ),
    case(
        "clock-only-for-sla-triggers",
        "    trigger: {on: agent_request}",
        "    trigger: {on: agent_request, clock: acknowledge}",
        226,
        41,
        "acknowledge",
        "`clock` only applies to sla_warning and sla_breach",
    ),
    case(
        "sla-warning-on-clock-without-warnings",
        "clock: final-response, when: case.level_rank == 0}",
        "clock: hard-limit, when: case.level_rank == 0}",
        238,
        39,
        "hard-limit",
        'clock "hard-limit" has no warnings, so this rule never fires',
    ),
    case(
        "low-score-escalates-without-rule",
        "    trigger: {on: low_survey_score}",
        "    trigger: {on: agent_request}",
        308,
        35,
        "escalate",
        "no escalation rule has trigger low_survey_score",
        "low_survey_score",
        # and `unhappy` now has the same trigger as `agent-asks`
    ),
    case(
        "no-customer-request-rule",
        "    trigger: {on: customer_request}",
        "    trigger: {on: missed_callback}",
        218,
        1,
        "escalation:",
        "no rule handles a customer's request to escalate",
        "customer_request",
        severity="warning",
    ),
    case(
        "calendar-without-working-time",
        '    hours:\n      mon: ["09:00-17:30"]\n      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n'
        '      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n'
        "        subdivision: SCT",
        "    hours: {}\n    holidays:\n      - country: GB\n        subdivision: SCT",
        42,
        5,
        "hours:",
        "calendar has no working time",
        "working hours",
    ),
    case(
        "backwards-range",
        '      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n      thu: ["09:00-17:30"]\n'
        '      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n        subdivision: ENG',
        '      tue: ["17:30-09:00"]\n      wed: ["09:00-17:30"]\n      thu: ["09:00-17:30"]\n'
        '      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n        subdivision: ENG',
        32,
        13,
        '"17:30-09:00"',
        '"17:30-09:00" ends before it starts',
        "overnight shift",
    ),
    case(
        "overlapping-ranges-point-at-the-later-one",
        '      wed: ["09:00-17:30"]\n      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n'
        "    holidays:\n      - country: GB\n        subdivision: ENG",
        '      wed: ["13:00-17:30", "09:00-14:00"]\n      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n'
        "    holidays:\n      - country: GB\n        subdivision: ENG",
        33,
        13,
        '"13:00-17:30"',
        'working ranges overlap: "13:00-17:30" starts before "09:00-14:00" ends',
    ),
    case(
        "unknown-timezone",
        '    timezone: Europe/London\n    hours:\n      mon: ["09:00-17:30"]\n      tue: ["09:00-17:30"]\n'
        '      wed: ["09:00-17:30"]\n      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n'
        "    holidays:\n      - country: GB\n        subdivision: SCT",
        '    timezone: Europe/Edinbrugh\n    hours:\n      mon: ["09:00-17:30"]\n      tue: ["09:00-17:30"]\n'
        '      wed: ["09:00-17:30"]\n      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n'
        "    holidays:\n      - country: GB\n        subdivision: SCT",
        41,
        15,
        "Europe/Edinbrugh",
        'unknown timezone "Europe/Edinbrugh"',
        "Europe/",
    ),
    case(
        "unknown-holiday-subdivision",
        "        subdivision: ENG",
        "        subdivision: ENGG",
        38,
        22,
        "ENGG",
        'unknown subdivision "ENGG" of "GB"',
        'did you mean "ENG"',
    ),
    case(
        "unknown-holiday-country",
        "      - country: GB\n        subdivision: SCT",
        "      - country: QQ\n        subdivision: SCT",
        49,
        18,
        "QQ",
        'no public-holiday data for country "QQ"',
    ),
    case(
        "selector-without-fallback",
        "      calendar: scotland\n    - calendar: england\n",
        '      calendar: scotland\n    - calendar: england\n      when: complaint.customer.region == "GB-ENG"\n',
        54,
        3,
        "regional:",
        "selector has no fallback choice",
        "no `when`",
    ),
    case(
        "selector-choice-after-fallback",
        "    - calendar: england\n",
        "    - calendar: england\n    - calendar: scotland\n",
        58,
        7,
        "calendar: scotland",
        "unreachable: an earlier choice without a condition always matches",
        severity="warning",
    ),
    case(
        "selector-named-like-a-calendar",
        "calendar_selectors:\n",
        "calendar_selectors:\n  scotland:\n    - calendar: england\n",
        54,
        3,
        "scotland:",
        '"scotland" is both a calendar and a selector',
    ),
    case(
        "survey-with-8-questions-warns",
        'weiterempfehlen?"}\n',
        'weiterempfehlen?"}\n      - Q6?\n      - Q7?\n      - Q8?\n',
        300,
        5,
        "questions:",
        "8 questions; surveys of 5-7 questions get answered",
        "cut questions",
        severity="warning",
    ),
    case(
        "survey-with-16-questions-is-an-error",
        'weiterempfehlen?"}\n',
        'weiterempfehlen?"}\n' + "".join(f"      - Q{n}?\n" for n in range(6, 17)),
        300,
        5,
        "questions:",
        "16 questions; a survey may have at most 15",
        "5-7 questions",
    ),
    case(
        "local-text-without-the-default-locale",
        "    title: {en: Customer Support agent, de: Kundenservice}\n",
        "    title: {de: Kundenservice}\n",
        192,
        5,
        "title: {de:",
        'title has no text in the default locale "en"',
        "add en: <text>",
    ),
    case(
        "local-text-without-a-listed-locale",
        "title: {en: Goodwill payment, de: Kulanzzahlung}}",
        "title: {en: Goodwill payment}}",
        261,
        32,
        "title: {en: Goodwill payment}",
        'title has no "de" text; "en" is used',
        "add de: <text>",
        severity="warning",
    ),
    case(
        "local-text-in-a-locale-not-listed",
        'weiterempfehlen?"}\n',
        'weiterempfehlen?", fr: "Nous recommanderiez-vous ?"}\n',
        305,
        117,
        "fr:",
        'question has a "fr" text, which no message reads: "fr" is not in policy.locales',
        "list fr in policy.locales",
        severity="warning",
    ),
    case(
        "survey-scale-backwards",
        "    scale: [1, 5]",
        "    scale: [5, 1]",
        299,
        5,
        "scale:",
        "the scale's lowest score must be below its highest",
        # and `below: 3` is then outside the scale: see extra problems
    ),
    case(
        "low-score-outside-scale",
        "    low_score: {below: 3, action: escalate",
        "    low_score: {below: 9, action: escalate",
        308,
        24,
        "9",
        "must be inside the scale 1-5",
    ),
    case(
        "warning-with-both-at-and-before",
        "      - at: 50%\n        notify: [sla-warning]\n      - before: 1 business day",
        "      - at: 50%\n        before: 1 business day\n        notify: [sla-warning]\n"
        "      - before: 1 business day",
        120,
        9,
        "at: 50%",
        "a warning needs exactly one of `at` (percent) or `before` (duration)",
    ),
    case(
        "warning-with-neither-at-nor-before",
        "      - at: 75%\n        notify: [sla-warning]",
        "      - notify: [sla-warning]",
        139,
        9,
        "notify",
        "a warning needs exactly one of `at` (percent) or `before` (duration)",
    ),
    case(
        "warning-percentage-out-of-range",
        "      - at: 75%",
        "      - at: 150%",
        139,
        13,
        "150%",
        '"150%" must be between 0 % and 100 %',
    ),
    Case(
        "warning-counts-other-units",
        (
            ("    target: 5 business days", "    target: 40 business hours"),
            ("      - before: 1 business day", "      - before: 1 hour"),
        ),
        (
            Expect(
                122,
                17,
                "1 hour",
                "warning counts hours but the target counts business hours",
                severity="warning",
            ),
        ),
    ),
    case(
        "extension-cap-not-above-target",
        "      max_total: 35 business days",
        "      max_total: 15 business days",
        144,
        18,
        "15 business days",
        "extension cap 15 business days is not longer than the target 15 business days",
    ),
    case(
        "unknown-extension-notice-template",
        "      notice: extension",
        "      notice: extention",
        145,
        15,
        "extention",
        'unknown template "extention"',
        'did you mean "extension"',
    ),
    case(
        "clock-target-zero",
        "    target: 10 business days",
        "    target: 0 business days",
        150,
        13,
        "0 business days",
        "target must be more than zero",
    ),
    case(
        "clock-stops-on-its-start",
        "    stops: [acknowledged]",
        "    stops: [submitted]",
        118,
        13,
        "submitted",
        "a clock cannot stop on the event that starts it",
    ),
    case(
        "priority-never-set",
        "      P1: 5 business days",
        "      P0: 5 business days",
        131,
        7,
        "P0:",
        'priority "P0" is never set by classification',
        severity="warning",
    ),
    case(
        "periodic-update-without-repeat",
        "    repeat: true\n",
        "    repeat: false\n",
        152,
        13,
        "false",
        "a periodic update clock usually repeats",
        "repeat: true",
        severity="warning",
    ),
    case(
        "duplicate-stage-id",
        "  - id: investigation\n",
        "  - id: received\n",
        97,
        9,
        "received",
        'duplicate id "received"',
        "first used at stages[0]",
    ),
    case(
        "duplicate-escalation-id",
        "  - id: agent-asks\n",
        "  - id: customer-asks\n",
        225,
        9,
        "customer-asks",
        'duplicate id "customer-asks"',
        "first used at escalation[0]",
    ),
    case(
        "duplicate-clock-id",
        "  - id: hard-limit\n",
        "  - id: delay-notice\n",
        162,
        9,
        "delay-notice",
        'duplicate id "delay-notice"',
        "first used at clocks[3]",
    ),
    case(
        "duplicate-date-id",
        "  - id: ombudsman-eligible\n",
        "  - id: ombudsman-referral\n",
        176,
        9,
        "ombudsman-referral",
        'duplicate id "ombudsman-referral"',
    ),
    case(
        "duplicate-level-id",
        "  - id: management\n",
        "  - id: complaints-department\n",
        210,
        9,
        "complaints-department",
        'duplicate id "complaints-department"',
    ),
    case(
        "duplicate-refusal-id",
        "    - id: abusive\n",
        "    - id: unidentifiable\n",
        75,
        11,
        "unidentifiable",
        'duplicate id "unidentifiable"',
    ),
    case(
        "required-fields-without-refusal",
        "  missing_information: incomplete\n",
        "",
        61,
        3,
        "required:",
        "no refusal is named for missing information",
        "intake.missing_information",
        severity="warning",
    ),
    case(
        "option-set-after-unconditional-one",
        "      template: options\n  caps:",
        "      template: options\n    - id: always\n      options: [apology]\n    - id: never\n"
        "      options: [goodwill]\n  caps:",
        272,
        7,
        "id: never",
        "unreachable: option_sets[1] has no condition and always matches first",
        severity="warning",
    ),
    case(
        "cap-below-top-level",
        "    per_complaint: 50000",
        "    per_complaint: 10000",
        271,
        20,
        "10000",
        'the cap 10000 is below what level "management" may grant (50000)',
        "the cap wins",
        severity="warning",
    ),
    case(
        "callbacks-without-missed-callback-rule",
        "\nnotifications:\n",
        "\ncallbacks:\n  within: 1 business day\n  template: closed\n  reminder: closed\n\nnotifications:\n",
        276,
        1,
        "callbacks:",
        "no escalation rule handles a missed callback",
        "missed_callback",
        severity="warning",
    ),
    case(
        "callbacks-bad-references",
        "\nnotifications:\n",
        "\ncallbacks:\n  within: 1 business day\n  calendar: englnd\n  template: closed\n  reminder: closed\n\nnotifications:\n",
        278,
        13,
        "englnd",
        'unknown calendar "englnd"',
        'did you mean "england"',
        # plus the missed-callback warning: see extra problems
    ),
    case(
        "unknown-notification-template",
        "    delay: {template: delay}",
        "    delay: {template: dely}",
        288,
        23,
        "dely",
        'unknown template "dely"',
        'did you mean "delay"',
    ),
    case(
        "template-never-used",
        "    withdrawn: {template: withdrawn}\n",
        "",
        313,
        8,
        "templates/financial",
        'template "withdrawn" is never used',
        severity="warning",
    ),
]

TEMPLATE_CASES = [
    Case(
        "template-that-fails-to-render-with-its-message",
        (),
        (
            Expect(
                145,
                15,
                "extension",
                'template "extension" (en) cannot be rendered with the message sent here: '
                "'ombuds.engine.policy.messages.Instant object' has no attribute 'year'",
            ),
            Expect(287, 27, "extension}", "cannot be rendered with the message sent here"),
        ),
        templates=(
            (
                "extension.en.txt",
                "Subject: New timeframe for your complaint {{ complaint.id }}\n\nDear {{ customer.name }},\n\n"
                "we need more time: {{ reason }}. By {{ new_date }} ({{ new_date.year }}).\n",
            ),
        ),
    ),
    Case(
        "template-prints-a-field-intake-does-not-require",
        (),
        (
            Expect(
                5,
                1,
                "your segment",
                'template "closed" (en) prints customer.segment, which a message may lack',
                'give it a default: {{ customer.segment | default("...") }}',
                severity="warning",
                file="closed.en.txt",
            ),
        ),
        templates=(
            (
                "closed.en.txt",
                "Subject: Complaint {{ complaint.id }} closed\n\nDear {{ customer.name }},\n\n"
                "your segment: {{ customer.segment }}.\n",
            ),
        ),
    ),
    case(
        "template-folder-without-templates",
        "  dir: templates/financial",
        "  dir: templates",
        314,
        8,
        "templates",
        'template folder "templates" holds no templates',
        "named <name>.<locale>.txt, e.g. received.en.txt",
    ),
    Case(
        "template-missing-in-default-locale",
        (),
        (
            Expect(
                1,
                1,
                "",
                'template "delay" has no text in the default locale "en"',
                "delay.en.txt",
                file="delay.de.txt",
            ),
        ),
        templates=(("delay.en.txt", None),),
    ),
    Case(
        "template-missing-in-other-locale",
        (),
        (
            Expect(
                1,
                1,
                "",
                'template "delay" has no "de" text; "en" is used',
                "delay.de.txt",
                severity="warning",
                file="delay.en.txt",
            ),
        ),
        templates=(("delay.de.txt", None),),
    ),
    Case(
        "template-syntax-error",
        (),
        (Expect(4, 1, "the reason", "template syntax error: unexpected ']'", file="delay.en.txt"),),
        templates=(
            ("delay.en.txt", "Subject: Delay\n\nDear {{ customer.name }},\nthe reason: {{ reason ]}\n"),
        ),
    ),
    Case(
        "template-block-left-open",
        (),
        (Expect(3, 6, "{% if", "template syntax error: Unexpected end of template", file="delay.en.txt"),),
        templates=(("delay.en.txt", "Subject: Delay\n\nDear {% if reason %}\n{{ customer.name }},\n"),),
    ),
    Case(
        "template-syntax-error-in-subject",
        (),
        (Expect(1, 1, "Subject", "template syntax error", file="delay.en.txt"),),
        templates=(("delay.en.txt", "Subject: Delay {{ reason\n\nDear {{ customer.name }},\n"),),
    ),
    Case(
        "template-unknown-variable",
        (),
        (
            Expect(
                4,
                30,
                "reasn",
                'template uses unknown variable "reasn"',
                'did you mean "reason"',
                file="delay.en.txt",
            ),
        ),
        templates=(
            (
                "delay.en.txt",
                "Subject: Delay\n\nDear {{ customer.name }},\nthe reason for the delay: {{ reasn }}.\n",
            ),
        ),
    ),
    Case(
        "template-unknown-variable-in-subject",
        (),
        (Expect(1, 32, "complant", 'template uses unknown variable "complant"', file="delay.en.txt"),),
        templates=(
            ("delay.en.txt", "Subject: Why your complaint {{ complant.id }} waits\n\nDear customer,\n"),
        ),
    ),
    Case(
        "template-not-utf8",
        (),
        (Expect(3, 3, "", "template is not valid UTF-8 (byte 0xFC)", file="delay.en.txt"),),
        templates=(("delay.en.txt", b"Subject: Delay\n\nGr\xfc\n"),),  # Latin-1, not UTF-8
    ),
    Case(
        "template-file-badly-named",
        (),
        (
            Expect(
                1,
                1,
                "",
                '"Delay.EN.txt" is not named <name>.<locale>.txt',
                severity="warning",
                file="Delay.EN.txt",
            ),
        ),
        templates=(("Delay.EN.txt", "Subject: x\n\nDear customer\n"),),
    ),
    case(
        "template-folder-missing",
        "  dir: templates/financial",
        "  dir: templates/finance",
        314,
        8,
        "templates/finance",
        'template folder "templates/finance" does not exist',
    ),
]

ALL_CASES = SCHEMA_CASES + CEL_CASES + REFERENCE_CASES + SEMANTIC_CASES + TEMPLATE_CASES

#: Cases whose edit rightly produces more problems than the one under test.
EXTRA_PROBLEMS = {
    "survey-scale-backwards": 1,  # `below: 3` is outside the backwards scale
    "callbacks-bad-references": 1,  # the missed-callback warning
    "callbacks-without-a-reminder": 1,  # the missed-callback warning
    "template-reads-what-its-message-lacks": 1,  # "investigating" is then never used
    "low-score-escalates-without-rule": 1,  # `unhappy` now repeats `agent-asks`'s trigger
    "default-locale-not-in-locales": 1,  # `locale_fallback: [en]` names the dropped locale too
}


def run_case(tmp_path: Path, case: Case) -> tuple[Path, Validated]:
    path = make_policy(tmp_path, case)
    return path, validate_file(path, today=case.today)


def test_the_example_policy_is_clean(tmp_path: Path) -> None:
    """The baseline of every case: the unedited example has no problems at all."""
    _, result = run_case(tmp_path, Case("clean", (), ()))
    assert result.ok, describe(result.report.problems)
    assert result.report.problems == []


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_one_breakage_one_located_message(tmp_path: Path, case: Case) -> None:
    path, result = run_case(tmp_path, case)
    problems = result.report.sorted()
    for expect in case.expect:
        target = path if expect.file == POLICY else path.parent / "templates" / "financial" / expect.file
        if expect.anchor:
            assert text_at(target, expect.line, expect.col).startswith(expect.anchor), (
                f"the table is out of date: {expect.anchor!r} is not at {expect.line}:{expect.col}"
            )
        assert any(matches(p, expect) for p in problems), (
            f"expected {expect.file}:{expect.line}:{expect.col}: {expect.severity}: "
            f"{expect.message} ({expect.hint})\nbut got:\n{describe(problems)}"
        )
    wanted = len(case.expect) + EXTRA_PROBLEMS.get(case.id, 0)
    assert len(problems) == wanted, f"expected {wanted} problem(s), got:\n{describe(problems)}"
    assert result.ok == all(e.severity == "warning" for e in case.expect)


def test_every_checker_check_has_a_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ``check_*`` method of the semantic checker reports a problem for some case of the table."""
    checks = sorted(name for name in vars(validate_mod._Checker) if name.startswith("check_"))
    assert len(checks) >= 15
    reported: set[str] = set()

    def recording(name: str) -> object:
        original = getattr(validate_mod._Checker, name)

        def check(self: validate_mod._Checker) -> None:
            before = len(self.problems)
            original(self)
            if len(self.problems) > before:
                reported.add(name)

        return check

    for name in checks:
        monkeypatch.setattr(validate_mod._Checker, name, recording(name))
    for case in CEL_CASES + REFERENCE_CASES + SEMANTIC_CASES + TEMPLATE_CASES:
        run_case(tmp_path / case.id, case)
    assert sorted(reported) == checks, f"checks without a case: {sorted(set(checks) - reported)}"


def test_every_schema_error_kind_is_worded(tmp_path: Path) -> None:
    """No schema error falls through to jsonschema's own wording."""
    raw_words = ("is not of type", "is not one of", "does not match", "is a required property", "Additional")
    for case in SCHEMA_CASES:
        _, result = run_case(tmp_path / case.id, case)
        for problem in result.report.problems:
            assert not any(w in problem.message for w in raw_words), problem.render()


def test_located_handles_an_optional_field_with_several_errors(tmp_path: Path) -> None:
    """A survey (an optional section) with two problems reports both, each at its place."""
    bad = Case(
        "survey-two-problems",
        (("    after: 2 days", "    after: soon"), ("    scale: [1, 5]", "    scale: [1, five]")),
        (
            Expect(296, 12, "soon", '"soon" is not a duration'),
            Expect(299, 16, "five", 'expected a whole number, found text "five"'),
        ),
    )
    _, result = run_case(tmp_path, bad)
    assert len(result.report.problems) == 2, describe(result.report.problems)
    for expect in bad.expect:
        assert any(matches(p, expect) for p in result.report.problems), describe(result.report.problems)


# --------------------------------------------------------------------------- ten at once

TEN = Case(
    "ten-breakages",
    (
        ("  retention_years: 5", "  retention_yeras: 5"),
        ("  priority: 20", "  priority: high"),
        ("    kind: periodic_update", "    kind: periodic"),
        ("    target: 5 business days", "    target: 5 bizness days"),
        (
            '      mon: ["09:00-17:30"]\n      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n'
            '      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n'
            "        subdivision: ENG",
            '      mon: ["9am-5:30pm"]\n      tue: ["09:00-17:30"]\n      wed: ["09:00-17:30"]\n'
            '      thu: ["09:00-17:30"]\n      fri: ["09:00-17:30"]\n    holidays:\n      - country: GB\n'
            "        subdivision: ENG",
        ),
        (
            "    title: {en: Final response, de: Abschließende Antwort}\n    calendar: regional",
            "    title: {en: Final response, de: Abschließende Antwort}\n    calendar: regionl",
        ),
        (
            "    when: has(complaint.custom.vulnerable) && complaint.custom.vulnerable == true",
            "    when: complaint.custmer.vulnerable == true",
        ),
        (
            "  - id: customer-asks\n    trigger: {on: customer_request}\n    to: complaints-department",
            "  - id: customer-asks\n    trigger: {on: customer_request}\n    to: complaints-dept",
        ),
        ("      max_amount: 250", "      max_amount: 25"),
        ("  - id: investigation\n", "  - id: received\n"),
    ),
    (
        Expect(311, 3, "retention_yeras", 'unknown key "retention_yeras"', 'did you mean "retention_years"'),
        Expect(25, 13, "high", "expected a whole number"),
        Expect(148, 11, "periodic", '"periodic" is not allowed here', 'did you mean "periodic_update"'),
        Expect(116, 13, "5 bizness days", 'unknown unit "bizness days"'),
        Expect(31, 13, '"9am-5:30pm"', "is not a time range", "HH:MM-HH:MM"),
        Expect(128, 15, "regionl", 'unknown calendar "regionl"', 'did you mean "regional"'),
        Expect(88, 21, "custmer", 'unknown field "custmer" in complaint', 'did you mean "customer"'),
        Expect(221, 9, "complaints-dept", 'unknown level "complaints-dept"', DID_YOU_MEAN),
        Expect(201, 19, "25", "max amount 25 is lower than the level below", "limits must grow"),
        Expect(97, 9, "received", 'duplicate id "received"', "first used at stages[0]"),
    ),
)


def test_ten_breakages_are_reported_together(tmp_path: Path) -> None:
    path, result = run_case(tmp_path, TEN)
    problems = result.report.sorted()
    assert len(problems) == 10, describe(problems)
    for expect in TEN.expect:
        assert text_at(path, expect.line, expect.col).startswith(expect.anchor), expect
        assert sum(matches(p, expect) for p in problems) == 1, f"{expect}\n{describe(problems)}"
    assert all(p.file == str(path) and p.path for p in problems)
    assert not result.ok and result.policy is None


def _expected_lines(path: Path) -> list[str]:
    return [f"{path}:{e.line}:{e.col}: error: " for e in sorted(TEN.expect, key=lambda e: (e.line, e.col))]


def test_cli_text_output(tmp_path: Path) -> None:
    path = make_policy(tmp_path, TEN)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().split("\n")
    assert len(lines) == 11, result.output
    for line, prefix in zip(lines, _expected_lines(path), strict=False):
        assert line.startswith(prefix), (line, prefix)
    custmer = next(line for line in lines if "custmer" in line)
    assert custmer == (
        f"{path}:88:21: error: classification[2].when: "
        'unknown field "custmer" in complaint (did you mean "customer"?)'
    )
    assert lines[-1] == "invalid: 1 file checked, 10 errors, 0 warnings"


def test_cli_json_output(tmp_path: Path) -> None:
    path = make_policy(tmp_path, TEN)
    result = CliRunner().invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["ok"] is False
    assert (report["errors"], report["warnings"]) == (10, 0)
    got = [(p["line"], p["col"]) for p in report["problems"]]
    assert got == sorted((e.line, e.col) for e in TEN.expect)
    for problem in report["problems"]:
        assert set(problem) >= {"file", "line", "col", "path", "message", "hint", "severity", "code"}
        assert problem["file"] == str(path)
        assert problem["severity"] == "error" and problem["message"]


def test_cli_clean_policy_exits_zero() -> None:
    result = CliRunner().invoke(app, ["validate", str(SOURCE)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("ok: 1 file checked, 0 errors, 0 warnings")


def test_cli_as_a_program(tmp_path: Path) -> None:
    """The installed ``ombuds`` script: same report, exit status 1, no traceback."""
    path = make_policy(tmp_path, TEN)
    script = Path(sys.executable).parent / "ombuds"
    if not script.exists():
        script = ROOT / ".venv" / "bin" / "ombuds"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [str(script), "validate", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["errors"] == 10
    text = subprocess.run(
        [str(script), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert text.returncode == 1
    assert f'{path}:88:21: error: classification[2].when: unknown field "custmer"' in text.stdout
    assert text.stdout.strip().endswith("invalid: 1 file checked, 10 errors, 0 warnings")


def test_template_reading_unknown_fields_and_keys_is_reported(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES, tmp_path / "templates" / "financial")
    (tmp_path / "policy.yaml").write_text(SOURCE.read_text("utf-8"), "utf-8")
    folder = tmp_path / "templates" / "financial"
    (folder / "received.en.txt").write_text("Subject: Received\n\nDear {{ customer.nmae }},\n", "utf-8")
    (folder / "closed.en.txt").write_text(
        "Subject: Closed\n\nClosed.\nby {{ deadlines['final-respons'] }}\n", "utf-8"
    )
    report = validate_file(tmp_path / "policy.yaml").report
    found = {(Path(p.file).name, p.line, p.message) for p in report.errors}
    assert ("received.en.txt", 3, "customer.nmae is not a field messages carry") in found
    assert ("closed.en.txt", 4, 'deadlines["final-respons"] names no clock of the policy') in found
    hints = " ".join(p.hint or "" for p in report.errors)
    assert 'did you mean "name"' in hints and 'did you mean "final-response"' in hints


def test_every_setting_that_names_a_template_says_what_its_message_carries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No template setting of the shipped policies escapes the check of what its message carries."""
    from ombuds.engine.policy.vocabulary import SENT_WITH

    seen: set[str] = set()
    original = validate_mod._Checker.template_ref

    def recording(self: validate_mod._Checker, loc: tuple[str | int, ...], *args: object) -> None:
        seen.add(validate_mod.template_site(loc))
        original(self, loc, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(validate_mod._Checker, "template_ref", recording)
    for path in sorted(POLICIES.glob("*.yaml")):
        assert validate_file(path, today=TODAY).ok
    assert len(seen) >= 20
    assert sorted(seen - set(SENT_WITH)) == []
