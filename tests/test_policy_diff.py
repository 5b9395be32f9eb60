"""``ombuds diff OLD NEW``: a shorter deadline, a lower limit and a reworded template, said in
plain language, and the test cases of OLD whose outcome changes under NEW, with why."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OMBUDS = str(Path(sys.executable).parent / "ombuds")


def test_a_policy_change_is_said_in_plain_language_with_the_tests_it_breaks(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    old = policies / "financial-services.yaml"
    new = policies / "financial-services-next.yaml"
    text = old.read_text("utf-8")
    text = text.replace("target: 15 business days", "target: 10 business days", 1)
    text = text.replace("      max_amount: 250\n", "      max_amount: 100\n", 1)
    new.write_text(text, "utf-8")
    shutil.copytree(policies / "templates" / "financial", tmp_path / "financial-next")
    template = policies / "templates" / "financial" / "acknowledgement.en.txt"
    kept = template.read_text("utf-8")
    env = {"OMBUDS_POLICIES": str(policies), "PATH": "/usr/bin:/bin", "OMBUDS_HOME": str(tmp_path / "home")}
    # the new version words its acknowledgement otherwise (its own template folder)
    (tmp_path / "financial-next" / "acknowledgement.en.txt").write_text(
        kept.replace("Dear", "Hello", 1), "utf-8"
    )
    new.write_text(
        new.read_text("utf-8").replace("dir: templates/financial", f"dir: {tmp_path / 'financial-next'}"),
        "utf-8",
    )
    done = subprocess.run(
        [OMBUDS, "diff", str(old), str(new)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "  - was: Final response [final-response, resolution]: within 15 business days" in out
    assert "  + now: Final response [final-response, resolution]: within 10 business days" in out
    assert "  - was: supervisor (Customer Support supervisor): up to 250 GBP" in out
    assert "  + now: supervisor (Customer Support supervisor): up to 100 GBP" in out
    assert "--- acknowledgement [en] (old)" in out
    assert "-Dear {{ customer.name }}," in out and "+Hello {{ customer.name }}," in out
    changed = int(out.split("whose outcome changes under financial-services-next.yaml: ")[1].split()[0])
    assert changed >= 3
    assert "the supervisor's approval grants it and tells the customer" in out and "passes -> FAILS" in out
    assert "policy:   financial-services-next.yaml:129" in out
    # unchanged cases are not listed
    assert "an abusive complaint is refused" not in out

    same = subprocess.run(
        [OMBUDS, "diff", str(old), str(old), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["sections"] == [] and json.loads(same.stdout)["tests"] == []
