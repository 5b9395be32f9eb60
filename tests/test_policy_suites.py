"""``ombuds test``: the shipped suites pass; a policy with a shorter deadline and a lower limit
breaks precisely the expectations that depend on them, each failure with expected, actual and
the policy line; a malformed suite gets located errors; JUnit output for CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
OMBUDS = str(Path(sys.executable).parent / "ombuds")


def ombuds_test(*args: str, policies: Path = ROOT / "policies") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OMBUDS, "test", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"OMBUDS_POLICIES": str(policies), "PATH": "/usr/bin:/bin", "OMBUDS_HOME": "/nonexistent"},
    )


def test_the_shipped_suites_pass() -> None:
    done = ombuds_test()
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 failed" in done.stdout
    passed = int(done.stdout.strip().splitlines()[-1].split()[0])
    assert passed >= 7


def test_a_shorter_deadline_and_a_lower_limit_break_what_depends_on_them(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples)
    policy = policies / "financial-services.yaml"
    text = policy.read_text("utf-8")
    text = text.replace("target: 15 business days", "target: 10 business days", 1)
    text = text.replace("      max_amount: 250\n", "      max_amount: 100\n", 1)  # the supervisor's limit
    policy.write_text(text, "utf-8")
    done = ombuds_test(policies=policies)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    # the final-response deadline: expected 21 January, now 10 business days (14 January)
    assert "FAILED" in out and "the deadlines of a complaint received out of hours" in out
    assert "expected: clock final-response due 2027-01-21T17:30:00Z" in out
    assert "actual:   due 2027-01-14T17:30:00Z (clock started, 10 business days)" in out
    assert "policy:   financial-services.yaml:129" in out
    # the breach moves with it
    assert "a case left alone breaches its final-response deadline" in out
    # 120 is now above the supervisor's limit: their approval no longer grants it
    assert "the supervisor's approval grants it and tells the customer" in out
    assert "expected: decision {'action': 'compensation granted'" in out
    assert "event 2 decide_approval: not_authorised (approval needs level complaints-department" in out
    # what does not depend on either still passes
    assert "an abusive complaint is refused at intake" not in out
    assert "the proposer cannot approve their own proposal" not in out


def test_a_malformed_suite_gets_located_errors(tmp_path: Path) -> None:
    suite = tmp_path / "broken.test.yaml"
    suite.write_text(
        "policy: ../policies/financial-services.yaml\ncases:\n  - name: x\n    complaint: c.yaml\n"
        "    expect:\n      - breach: final-response\n        status: closed\n",
        "utf-8",
    )
    done = ombuds_test(str(suite))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{suite}:6:" in done.stderr and "give exactly one expectation" in done.stderr


def test_junit_output_names_each_case_and_its_failure(tmp_path: Path) -> None:
    suite = tmp_path / "one.test.yaml"
    suite.write_text(
        f"policy: {ROOT / 'policies' / 'financial-services.yaml'}\ncases:\n"
        f"  - name: breaches in a day\n    complaint: {ROOT / 'examples' / 'complaints' / 'fs-card-fee.yaml'}\n"
        '    until: "+1 day"\n    expect:\n      - breach: final-response\n'
        f"  - name: is open\n    complaint: {ROOT / 'examples' / 'complaints' / 'fs-card-fee.yaml'}\n"
        '    until: "+1 day"\n    expect:\n      - status: open\n',
        "utf-8",
    )
    done = ombuds_test(str(suite), "--format", "junit")
    assert done.returncode == 1
    root = ElementTree.fromstring(done.stdout)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"breaches in a day", "is open"}
    failure = cases["breaches in a day"].find("failure")
    assert failure is not None and "clock final-response breaches" in (failure.text or "")
    assert cases["is open"].find("failure") is None


def test_what_a_suite_names_that_the_policy_lacks_is_located(tmp_path: Path) -> None:
    suite = tmp_path / "names.test.yaml"
    suite.write_text(
        f"policy: {ROOT / 'policies' / 'retail.yaml'}\ncases:\n  - name: x\n"
        f"    complaint: {ROOT / 'examples' / 'complaints' / 'retail-defective-kettle.json'}\n"
        "    events:\n      - {at: '+1h', kind: teleport}\n"
        "    expect:\n      - message: {template: sorry-note}\n      - breach: first-reply\n",
        "utf-8",
    )
    done = ombuds_test(str(suite))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{suite}:6:" in done.stderr and '"teleport" is no event kind' in done.stderr
    assert f"{suite}:8:" in done.stderr and 'the policy has no template "sorry-note"' in done.stderr
    assert f"{suite}:9:" in done.stderr and 'the policy has no clock "first-reply"' in done.stderr


def test_an_event_the_policy_does_not_take_fails_its_case_naming_it(tmp_path: Path) -> None:
    suite = tmp_path / "refused.test.yaml"
    suite.write_text(
        f"policy: {ROOT / 'policies' / 'retail.yaml'}\ncases:\n  - name: chooses too early\n"
        f"    complaint: {ROOT / 'examples' / 'complaints' / 'retail-defective-kettle.json'}\n"
        "    until: '+1 day'\n"
        "    events:\n      - {at: '+1h', kind: choose_option, option: refund}\n"
        "    expect:\n      - status: open\n",
        "utf-8",
    )
    done = ombuds_test(str(suite))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "FAILED" in done.stdout and "chooses too early" in done.stdout
    assert "expected: event 1 (choose_option at +1h) is taken" in done.stdout
    assert "actual:   not taken:" in done.stdout
