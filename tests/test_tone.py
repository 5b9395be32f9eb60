"""The tone check: phrases that lose customers, found in the templates' text and reported as
warnings at the template's line and column, with the policy's own list of phrases to avoid."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ombuds.engine.cli import app
from ombuds.engine.policy.errors import PolicyError
from ombuds.engine.policy.validate import Validated, validate_file

from .conftest import POLICIES

POLICY = """\
ombuds: 1

policy:
  id: tone
  version: "1"
  title: A procedure with one message
  owner: Customer Service
  effective: 2026-01-01
  review_by: 2027-01-01
  locale: en
  locales: [en, de, fr, de-AT]

applies_to:
  default: true

calendars:
  office:
    timezone: Europe/London
    hours:
      mon: ["09:00-17:00"]

intake:
  channels: [email]

stages:
  - id: received
    notify: received
  - id: closed
    final: true

authority:
  - id: agent
    title: Customer service agent

templates:
  dir: templates
"""

GREETING = {"en": "Dear customer,", "de": "Guten Tag,", "fr": "Bonjour,", "de-AT": "Grüß Gott,"}


def write_policy(tmp_path: Path, texts: dict[str, str], tone: str = "") -> Path:
    """The policy above with a ``received`` template per locale: ``texts`` gives a locale's body
    (after ``Subject: Received`` and a blank line), the others get a greeting."""
    folder = tmp_path / "templates"
    folder.mkdir(parents=True)
    for locale, greeting in GREETING.items():
        body = texts.get(locale, f"{greeting}\n\nwe have your complaint {{{{ complaint.id }}}}.\n")
        subject = texts.get(f"{locale}:subject", "Received")
        (folder / f"received.{locale}.txt").write_text(f"Subject: {subject}\n\n{body}", "utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY + tone, "utf-8")
    return path


def tone_problems(result: Validated) -> list[PolicyError]:
    return [p for p in result.report.sorted() if p.code == "tone"]


def located(tmp_path: Path, texts: dict[str, str], tone: str = "") -> list[tuple[str, int, int, str]]:
    """``(file name, line, col, message)`` of each tone warning; the policy is otherwise clean."""
    result = validate_file(write_policy(tmp_path, texts, tone))
    assert result.ok, result.report.render_text()
    found = tone_problems(result)
    assert all(p.severity == "warning" for p in found)
    return [(Path(p.file).name, p.line, p.col, p.message) for p in found]


#: A phrase per language, written after a text that must not match, to show the check ran.
CONTROL = {"en": "calm down", "de": "beruhigen Sie sich", "fr": "calmez-vous"}


def only_the_control_is_found(tmp_path: Path, locale: str, body: str) -> bool:
    """Whether ``body`` (line 5 of the template) holds no phrase: the control phrase on line 6
    is the only one found."""
    control = CONTROL[locale.split("-")[0]]
    found = located(tmp_path, {locale: f"{GREETING[locale]}\n\n{body}\n{control}\n"})
    return [(line, col, m.split(" reads")[0]) for _, line, col, m in found] == [(6, 1, f'"{control}"')]


def text_at(path: Path, line: int, col: int) -> str:
    return path.read_text("utf-8").splitlines()[line - 1][col - 1 :]


@pytest.mark.parametrize(
    ("locale", "body", "line", "col", "phrase", "reads_as"),
    [
        ("en", "Dear customer,\n\nplease calm down and wait.\n", 5, 8, "calm down", "dismissive"),
        ("en", "Dear customer,\n\nthat's our policy, sorry.\n", 5, 1, "that's our policy", "a brush-off"),
        (
            "de",
            "Guten Tag,\n\nwie bereits erwähnt, ist der Antrag da.\n",
            5,
            1,
            "wie bereits erwähnt",
            "condescending",
        ),
        ("de", "Guten Tag,\n\nbitte beruhigen Sie sich.\n", 5, 7, "beruhigen Sie sich", "dismissive"),
        ("de-AT", "Grüß Gott,\n\nbitte beruhigen Sie sich.\n", 5, 7, "beruhigen Sie sich", "dismissive"),
        (
            "fr",
            "Bonjour,\n\nmerci de patienter : c'est notre politique.\n",
            5,
            22,
            "c'est notre politique",
            "a brush-off",
        ),
        ("fr", "Bonjour,\n\nCalmez-vous, nous traitons votre demande.\n", 5, 1, "Calmez-vous", "dismissive"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) <= 5 else None,
)
def test_each_language_finds_a_phrase_at_its_line_and_column(
    tmp_path: Path, locale: str, body: str, line: int, col: int, phrase: str, reads_as: str
) -> None:
    found = located(tmp_path, {locale: body})
    assert found == [(f"received.{locale}.txt", line, col, found[0][3])]
    assert found[0][3].startswith(f'"{phrase}" reads as {reads_as}: ')
    assert text_at(tmp_path / "templates" / f"received.{locale}.txt", line, col).startswith(phrase)


def test_the_warning_names_what_to_write_instead(tmp_path: Path) -> None:
    result = validate_file(write_policy(tmp_path, {"en": "Dear customer,\n\ncalm down.\n"}))
    (problem,) = tone_problems(result)
    assert (
        problem.message
        == '"calm down" reads as dismissive: it tells the customer their feelings are the problem'
    )
    assert problem.hint == 'acknowledge the feeling: "I understand how frustrating this is"'
    assert (problem.severity, problem.code, problem.path) == ("warning", "tone", "")


def test_a_phrase_in_the_subject_is_found_at_its_column(tmp_path: Path) -> None:
    found = located(tmp_path, {"en:subject": "Calm down: {{ complaint.id }}"})
    assert [(f, line, col) for f, line, col, _ in found] == [("received.en.txt", 1, 10)]


@pytest.mark.parametrize(
    "written",
    ["That's our policy.", "That’s our policy.", "THAT‘S OUR POLICY.", "thatʼs our policy."],
)
def test_any_apostrophe_and_case_match(tmp_path: Path, written: str) -> None:
    found = located(tmp_path, {"en": f"Dear customer,\n\n{written}\n"})
    assert [(line, col) for _, line, col, _ in found] == [(5, 1)]
    assert found[0][3].startswith(f'"{written.rstrip(".")}" reads as a brush-off')


def test_a_french_phrase_with_a_typographic_apostrophe(tmp_path: Path) -> None:
    found = located(tmp_path, {"fr": "Bonjour,\n\nC’est notre politique.\n"})
    assert [(name, line, col) for name, line, col, _ in found] == [("received.fr.txt", 5, 1)]


def test_a_phrase_split_over_a_line_break_is_found_where_it_starts(tmp_path: Path) -> None:
    found = located(tmp_path, {"en": "Dear customer,\n\nwe are sorry, but that is our\n   policy here.\n"})
    assert [(line, col) for _, line, col, _ in found] == [(5, 19)]
    assert found[0][3].startswith('"that is our policy" reads as a brush-off')
    assert text_at(tmp_path / "templates" / "received.en.txt", 5, 19) == "that is our"


@pytest.mark.parametrize(
    ("locale", "body", "col", "found"),
    [
        ("en", "You must have forgotten the receipt.", 1, "You must have forgotten"),
        (
            "de",
            "Sie hätten das Formular vollständig ausfüllen müssen.",
            1,
            "Sie hätten das Formular vollständig ausfüllen müssen",
        ),
        (
            "de",
            "Sie hätten {{ complaint.id }} angeben müssen.",
            1,
            "Sie hätten {{ complaint.id }} angeben müssen",
        ),
        ("fr", "Hélas, vous auriez dû appeler.", 8, "vous auriez dû"),
    ],
)
def test_a_placeholder_stands_for_words_of_the_sentence(
    tmp_path: Path, locale: str, body: str, col: int, found: str
) -> None:
    problems = located(tmp_path, {locale: f"{GREETING[locale]}\n\n{body}\n"})
    assert [(line, c) for _, line, c, _ in problems] == [(5, col)]
    assert problems[0][3].startswith(f'"{found}" reads as blaming')


@pytest.mark.parametrize(
    ("locale", "body"),
    [
        ("en", "You must have. Then we start."),  # the sentence ends
        ("en", "Is a receipt what you must have?"),  # no word follows
        ("de", "Sie hätten eins zwei drei vier fünf sechs müssen."),  # more than five words
        ("de", "Sie hätten es gern. Wir müssen prüfen."),  # another sentence
    ],
)
def test_a_placeholder_does_not_reach_past_its_sentence_or_five_words(
    tmp_path: Path, locale: str, body: str
) -> None:
    assert only_the_control_is_found(tmp_path, locale, body)


def test_text_inside_tags_is_not_read_but_text_between_them_is(tmp_path: Path) -> None:
    body = (
        "Dear customer,\n\n"
        "{{ 'calm down' }} {# calm down #} {% if 'calm down' %}ok{% endif %}\n"
        "{% if complaint.id %}Calm down{% endif %}, we are here.\n"
    )
    found = located(tmp_path, {"en": body})
    assert [(line, col) for _, line, col, _ in found] == [(6, 22)]
    assert text_at(tmp_path / "templates" / "received.en.txt", 6, 22).startswith("Calm down")


@pytest.mark.parametrize(
    ("locale", "body"),
    [
        ("en", "Our refund policy gives you 30 days. Take a calm look; we come down to you."),
        ("en", "We calmly checked: you must have. Obviousness is not a word we use; we regret nothing."),
        ("en", "You should have received a confirmation. We must have your account number."),
        ("de", "Unsere Richtlinie ist einfach. Bitte bleiben Sie dran; wir hätten gern Ihre Nummer."),
        ("fr", "Notre politique de remboursement est simple. Vous avez du mal à joindre le service ?"),
    ],
)
def test_innocent_text_is_not_flagged(tmp_path: Path, locale: str, body: str) -> None:
    assert only_the_control_is_found(tmp_path, locale, body)


def test_allow_switches_a_built_in_phrase_off(tmp_path: Path) -> None:
    body = "Dear customer,\n\nobviously, calm down.\n"
    assert [m.split(" reads")[0] for *_, m in located(tmp_path / "a", {"en": body})] == [
        '"obviously"',
        '"calm down"',
    ]
    tone = "  tone:\n    allow: [Obviously]\n"
    assert [m.split(" reads")[0] for *_, m in located(tmp_path / "b", {"en": body}, tone)] == ['"calm down"']


def test_allow_of_a_phrase_that_is_not_built_in_is_a_warning_at_it(tmp_path: Path) -> None:
    path = write_policy(tmp_path, {}, '  tone:\n    allow: ["thats our policy"]\n')
    result = validate_file(path)
    assert result.ok
    (problem,) = tone_problems(result)
    assert (Path(problem.file).name, problem.path) == ("policy.yaml", "templates.tone.allow[0]")
    assert problem.message == '"thats our policy" is not a built-in phrase, so allowing it changes nothing'
    assert problem.hint == 'did you mean "that\'s our policy"?'
    assert text_at(path, problem.line, problem.col).startswith('"thats our policy"')


def test_avoid_adds_the_policy_s_own_phrases(tmp_path: Path) -> None:
    tone = '  tone:\n    avoid:\n      en: ["no can do", "we ... refuse"]\n      de: ["müssen Sie selbst klären"]\n'
    texts = {
        "en": "Dear customer,\n\nsorry, no can do. We flatly refuse.\n",
        "de-AT": "Grüß Gott,\n\ndas müssen Sie selbst klären.\n",
    }
    found = located(tmp_path, texts, tone)
    assert found == [
        ("received.de-AT.txt", 5, 5, '"müssen Sie selbst klären" is a phrase this policy avoids'),
        ("received.en.txt", 5, 8, '"no can do" is a phrase this policy avoids'),
        ("received.en.txt", 5, 19, '"We flatly refuse" is a phrase this policy avoids'),
    ]
    result = validate_file(tmp_path / "policy.yaml")
    assert tone_problems(result)[0].hint == "reword it (templates.tone.avoid.de lists it)"


def test_avoid_for_a_locale_the_policy_does_not_list_is_a_warning_at_its_key(tmp_path: Path) -> None:
    path = write_policy(tmp_path, {}, "  tone:\n    avoid:\n      es: [no se puede]\n      de: [x]\n")
    result = validate_file(path)
    assert result.ok
    (problem,) = tone_problems(result)
    assert problem.path == "templates.tone.avoid.es"
    assert problem.message == 'phrases for "es", a locale the policy does not list, are never looked for'
    assert (problem.line, problem.col) == (
        path.read_text("utf-8").splitlines().index("      es: [no se puede]") + 1,
        7,
    )
    assert text_at(path, problem.line, problem.col).startswith("es:")


@pytest.mark.parametrize(
    ("phrase", "why"),
    [("...", "has no word to look for"), ("a ... b ... c … d", "has more than 2 `...`")],
)
def test_a_phrase_to_avoid_needs_a_word_and_few_placeholders(tmp_path: Path, phrase: str, why: str) -> None:
    result = validate_file(write_policy(tmp_path, {}, f'  tone:\n    avoid:\n      en: ["{phrase}"]\n'))
    assert not result.ok
    (problem,) = result.report.errors
    assert (problem.path, problem.code) == ("templates.tone.avoid.en[0]", "pattern")
    assert problem.message == f'"{phrase}" {why}'


def test_builtin_false_looks_only_for_the_policy_s_phrases(tmp_path: Path) -> None:
    texts = {"en": "Dear customer,\n\ncalm down; no can do.\n", "fr": "Bonjour,\n\ncalmez-vous.\n"}
    tone = '  tone:\n    builtin: false\n    avoid:\n      en: ["no can do"]\n'
    assert [(f, c) for f, _, c, _ in located(tmp_path, texts, tone)] == [("received.en.txt", 12)]


def test_validate_prints_the_warning_at_the_template_and_succeeds(tmp_path: Path) -> None:
    path = write_policy(tmp_path, {"de": "Guten Tag,\n\nSie hätten früher anrufen müssen.\n"})
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    template = tmp_path / "templates" / "received.de.txt"
    assert (
        f'{template}:5:1: warning: "Sie hätten früher anrufen müssen" reads as blaming: '
        "it presumes the customer made the mistake" in result.output
    )
    assert result.output.strip().endswith("ok: 1 file checked, 0 errors, 1 warning")


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_templates_have_no_phrase_to_avoid_and_are_checked(tmp_path: Path, path: Path) -> None:
    """The shipped texts are clean; a phrase added to one text of each locale is found there."""
    policy = tmp_path / path.name
    policy.write_text(path.read_text("utf-8"), "utf-8")
    shutil.copytree(POLICIES / "templates", tmp_path / "templates")
    result = validate_file(policy)
    assert result.ok and result.templates is not None
    assert tone_problems(result) == []
    phrases = {"en": "calm down", "de": "beruhigen Sie sich", "fr": "calmez-vous"}
    expected = []
    for template in next(iter(result.templates.templates.values())).values():
        file = Path(template.file)
        text = file.read_text("utf-8") + phrases[template.locale.split("-")[0]] + "\n"
        file.write_text(text, "utf-8")
        expected.append((template.file, text.count("\n"), 1))
    assert len(expected) >= 2
    assert [(p.file, p.line, p.col) for p in tone_problems(validate_file(policy))] == sorted(expected)


def test_the_policy_language_reference_lists_every_built_in_phrase() -> None:
    from ombuds.engine.policy.tone import BUILTIN

    docs = (POLICIES.parent / "docs" / "policy-language.md").read_text("utf-8")
    tone_section = docs.split("### Tone", 1)[1].split("\n### ", 1)[0]
    assert [p.text for ps in BUILTIN.values() for p in ps if f"`{p.text}`" not in tone_section] == []
    assert set(BUILTIN) >= {"en", "de", "fr"}


def test_the_tone_settings_are_bounded(tmp_path: Path) -> None:
    locales = "".join(f"      l{chr(97 + i // 26)}{chr(97 + i % 26)}: [x]\n" for i in range(21))
    long = "x" * 121
    tone = f"  tone:\n    allow: [{long}]\n    avoid:\n{locales}      en: [{', '.join(['y'] * 101)}]\n"
    result = validate_file(write_policy(tmp_path, {}, tone))
    found = {(p.path, p.message) for p in result.report.errors}
    assert found == {
        ("templates.tone.allow[0]", "is too long: 121 characters, at most 120"),
        ("templates.tone.avoid", "may have at most 20 items, found 22"),
        ("templates.tone.avoid.en", "may have at most 100 items, found 101"),
    }
