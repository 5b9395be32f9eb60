"""``ombuds new ID --like POLICY --locales ...``: a new policy with its full set of templates,
each listing what its messages carry, that validates at once and runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ombuds.engine.policy.validate import validate_file

ROOT = Path(__file__).resolve().parent.parent
OMBUDS = str(Path(sys.executable).parent / "ombuds")


def ombuds(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OMBUDS, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize(
    ("like", "locales"), [("retail", "en,de"), ("financial-services", "en"), ("b2b-support", "en,fr")]
)
def test_a_new_policy_like_a_shipped_one_validates_at_once(tmp_path: Path, like: str, locales: str) -> None:
    made = ombuds("new", "acme-care", "--like", like, "--locales", locales, "--into", str(tmp_path))
    assert made.returncode == 0, made.stderr
    policy = tmp_path / "acme-care.yaml"
    validated = validate_file(policy)
    assert validated.ok, validated.report.render_text()
    # warnings only name the texts to translate, or to drop, for the locales chosen
    others = [
        p
        for p in validated.report.problems
        if p.severity == "warning"
        and "text, which no message reads" not in p.message
        and " text; " not in p.message
    ]
    assert not others, validated.report.render_text()
    assert validated.policy is not None and validated.policy.policy.id == "acme-care"
    assert validated.policy.policy.version == "0.1"
    assert validated.templates is not None
    model = validate_file(ROOT / "policies" / f"{like}.yaml")
    assert model.templates is not None
    for name in model.templates.templates:  # every message the model sends, in every locale asked for
        for locale in locales.split(","):
            text = (tmp_path / "templates" / "acme-care" / f"{name}.{locale}.txt").read_text("utf-8")
            assert "This message carries: " in text, name
    ran = ombuds(
        "simulate",
        str(policy),
        "--complaint",
        str(ROOT / "examples" / "complaints" / "retail-defective-kettle.json"),
    )
    assert ran.returncode == 0 and "registered" in ran.stdout, ran.stderr


def test_a_locale_the_model_lacks_is_marked_to_translate(tmp_path: Path) -> None:
    made = ombuds("new", "acme", "--like", "retail", "--locales", "en,fr", "--into", str(tmp_path))
    assert made.returncode == 0, made.stderr
    options = (tmp_path / "templates" / "acme" / "options.fr.txt").read_text("utf-8")
    assert "TRANSLATE from en into fr" in options and "options" in options.splitlines()[-1]
    assert validate_file(tmp_path / "acme.yaml").ok


def test_an_existing_policy_or_a_bad_id_is_refused(tmp_path: Path) -> None:
    assert ombuds("new", "acme", "--like", "retail", "--into", str(tmp_path)).returncode == 0
    again = ombuds("new", "acme", "--like", "retail", "--into", str(tmp_path))
    assert again.returncode == 1 and "exists already" in again.stderr
    bad = ombuds("new", "Acme Care", "--like", "retail", "--into", str(tmp_path))
    assert bad.returncode == 1 and "is not a policy id" in bad.stderr
    unknown = ombuds("new", "other", "--like", "bakery", "--into", str(tmp_path))
    assert unknown.returncode == 1 and 'no policy "bakery"' in unknown.stderr
