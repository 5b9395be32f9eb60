"""Phrases that lose customers: a built-in list per language, and the check that finds them in templates.

A phrase matches case-insensitively, as whole words, whatever apostrophe (``'`` or ``’``) and
whitespace (a line break too) the template writes, and its hyphen matches a hyphen or a space.
``...`` between two words of a phrase stands for one to five words of the same sentence (no
``.``, ``!`` or ``?`` between); at its start or end, for the one word before or after.  Only the text a
template writes is read: what is inside ``{{ }}``, ``{% %}`` and ``{# #}`` never matches,
though a ``...`` may stand for a ``{{ value }}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from .errors import PolicyError, did_you_mean


@dataclass(frozen=True)
class Phrase:
    """A phrase to avoid: how it reads, why that loses customers, and what to write instead."""

    text: str
    reads_as: str
    why: str
    instead: str


def _group(reads_as: str, why: str, instead: str, *texts: str) -> tuple[Phrase, ...]:
    return tuple(Phrase(text, reads_as, why, instead) for text in texts)


_BRUSH_OFF = ("a brush-off", "it puts a rule before the customer and gives no reason")
_DISMISSIVE = ("dismissive", "it tells the customer their feelings are the problem")
_BLAMING = ("blaming", "it presumes the customer made the mistake")
_CONDESCENDING = ("condescending", "it implies the customer did not listen or should know better")
_DEAD_END = ("a dead end", "it leaves the customer with no way forward")
_DEFENSIVE = ("defensive", "it argues about fault instead of solving the problem")
_NON_APOLOGY = ("a non-apology", "it is vague and doubts there was any trouble")
_INSINCERE = ("insincere", "it suggests the rest of the message is not honest")
_REFUSAL = ("a flat refusal", "it ends the conversation without an alternative")
_BUCK_PASSING = ("passing the buck", "the customer wants the problem owned, not handed on")
_BUREAUCRATIC = ("bureaucratic", "it sends the customer to read the rules instead of answering")

#: The built-in phrases, by language (a template in ``de-AT`` is read with ``de``'s).
BUILTIN: dict[str, tuple[Phrase, ...]] = {
    "en": (
        *_group(
            *_BRUSH_OFF,
            "say why the rule exists and what you can do within it",
            "that's our policy",
            "that is our policy",
            "it's company policy",
            "it is company policy",
        ),
        *_group(*_DISMISSIVE, 'acknowledge the feeling: "I understand how frustrating this is"', "calm down"),
        *_group(
            *_BLAMING,
            'describe what happened without a culprit: "the parcel seems to have gone to an older address"',
            "you must have ...",
            "you should have known",
            "you should have read",
            "you should have checked",
            "you should have told us",
            "you misunderstood",
            "you're wrong",
            "you are wrong",
            "the problem is you",
            "the problem is on your end",
            "the problem is on your side",
        ),
        *_group(
            "accusing",
            "it accuses the customer",
            'say what is still needed: "we still need your receipt"',
            "you failed to",
        ),
        *_group(
            *_CONDESCENDING,
            "give the information again, plainly",
            "as I already said",
            "as I said before",
            "as previously stated",
            "as already explained",
            "per my last",
            "per my previous",
            "obviously",
            "with all due respect",
        ),
        *_group(
            *_DEAD_END,
            'say what you can do: "what we can do is ..."',
            "there is nothing we can do",
            "there's nothing we can do",
            "we can't help you",
            "we cannot help you",
        ),
        *_group(
            *_DEFENSIVE,
            'own the next step: "here is how we will put it right"',
            "it's not our fault",
            "it is not our fault",
            "that's not our problem",
            "that is not our problem",
        ),
        *_group(
            *_NON_APOLOGY,
            'apologise for the specific problem: "we are sorry your parcel arrived late"',
            "we regret any inconvenience",
            "sorry for any inconvenience",
            "apologise for any inconvenience",
            "apologize for any inconvenience",
            "sorry you feel that way",
            "sorry if you feel",
        ),
        *_group(*_INSINCERE, "leave it out", "to be honest"),
        *_group(
            *_REFUSAL,
            'offer what is possible: "what we can do instead is ..."',
            "that's impossible",
            "that is impossible",
        ),
        *_group(
            *_BUCK_PASSING,
            'say who will help and why: "our billing team can correct the invoice; I have passed it on"',
            "not my job",
            "not my department",
            "someone who gets it",
        ),
        *_group(
            *_BUREAUCRATIC,
            "answer in plain words; cite the clause as a reference only",
            "it's in clause",
            "it is in clause",
            "read the manual",
        ),
    ),
    "de": (
        *_group(
            *_BRUSH_OFF,
            'say why the rule exists and what you can do: "der Grund dafür ist ...; wir können Ihnen ... anbieten"',
            "das ist unsere Richtlinie",
            "das sind unsere Richtlinien",
            "das ist Firmenpolitik",
            "das ist bei uns so",
        ),
        *_group(
            *_DISMISSIVE,
            'acknowledge the feeling: "ich verstehe, dass Sie das ärgert"',
            "beruhigen Sie sich",
            "regen Sie sich nicht auf",
        ),
        *_group(
            *_BLAMING,
            'describe what happened without a culprit: "das Paket ging offenbar an eine alte Adresse"',
            "Sie hätten ... müssen",
            "Sie hätten ... sollen",
            "Sie müssen ... haben",
            "Sie haben ... falsch verstanden",
            "Sie haben ... missverstanden",
            "Sie irren sich",
        ),
        *_group(
            "accusing",
            "it accuses the customer",
            'say what is still needed: "uns fehlt noch Ihr Kaufbeleg"',
            "Sie haben versäumt",
            "Sie haben es versäumt",
        ),
        *_group(
            *_CONDESCENDING,
            "give the information again, plainly",
            "wie bereits erwähnt",
            "wie bereits gesagt",
            "wie schon gesagt",
            "wie ich bereits sagte",
            "wie Sie wissen sollten",
            "bei allem Respekt",
        ),
        *_group(
            *_DEAD_END,
            'say what you can do: "was wir tun können, ist ..."',
            "können wir nichts tun",
            "können wir nichts machen",
            "kann man nichts machen",
        ),
        *_group(
            *_DEFENSIVE,
            'own the next step: "so bringen wir es in Ordnung: ..."',
            "das ist nicht unsere Schuld",
            "das ist nicht unser Problem",
            "dafür können wir nichts",
        ),
        *_group(
            *_NON_APOLOGY,
            'apologise for the specific problem: "es tut uns leid, dass Ihr Paket zu spät kam"',
            "etwaige Unannehmlichkeiten",
            "eventuelle Unannehmlichkeiten",
        ),
        *_group(*_INSINCERE, "leave it out", "ehrlich gesagt", "um ehrlich zu sein"),
        *_group(
            *_REFUSAL,
            'offer what is possible: "was wir stattdessen tun können, ist ..."',
            "das ist unmöglich",
            "das geht nicht",
        ),
        *_group(
            *_BUCK_PASSING,
            'say who will help and why: "unser Rechnungsteam korrigiert die Rechnung; ich habe es weitergegeben"',
            "das ist nicht mein Problem",
            "dafür bin ich nicht zuständig",
        ),
        *_group(
            *_BUREAUCRATIC,
            "answer in plain words; cite the clause as a reference only",
            "steht in den AGB",
            "steht in unseren AGB",
        ),
    ),
    "fr": (
        *_group(
            *_BRUSH_OFF,
            'say why the rule exists and what you can do: "la raison en est ... ; nous pouvons vous proposer ..."',
            "c'est notre politique",
            "c'est la politique de l'entreprise",
            "c'est le règlement",
        ),
        *_group(
            *_DISMISSIVE,
            'acknowledge the feeling: "je comprends que ce soit agaçant"',
            "calmez-vous",
            "du calme",
        ),
        *_group(
            *_BLAMING,
            'describe what happened without a culprit: "le colis semble être parti à une ancienne adresse"',
            "vous auriez dû",
            "vous avez dû vous tromper",
            "vous avez dû mal ...",
            "vous vous trompez",
            "vous avez mal compris",
        ),
        *_group(
            "accusing",
            "it accuses the customer",
            'say what is still needed: "il nous manque encore votre ticket de caisse"',
            "vous avez omis de",
            "vous n'avez pas respecté",
        ),
        *_group(
            *_CONDESCENDING,
            "give the information again, plainly",
            "comme je l'ai déjà dit",
            "comme je vous l'ai déjà dit",
            "comme déjà mentionné",
            "comme déjà indiqué",
            "comme vous devriez le savoir",
            "avec tout le respect",
        ),
        *_group(
            *_DEAD_END,
            'say what you can do: "ce que nous pouvons faire, c\'est ..."',
            "nous ne pouvons rien faire",
            "on ne peut rien faire",
            "il n'y a rien à faire",
        ),
        *_group(
            *_DEFENSIVE,
            'own the next step: "voici comment nous allons y remédier"',
            "ce n'est pas de notre faute",
            "ce n'est pas notre faute",
            "ce n'est pas notre problème",
        ),
        *_group(
            *_NON_APOLOGY,
            'apologise for the specific problem: "nous sommes désolés que votre colis soit arrivé en retard"',
            "tout désagrément",
            "éventuels désagréments",
        ),
        *_group(*_INSINCERE, "leave it out", "pour être honnête", "pour être franc"),
        *_group(
            *_REFUSAL,
            'offer what is possible: "ce que nous pouvons faire à la place, c\'est ..."',
            "c'est impossible",
        ),
        *_group(
            *_BUCK_PASSING,
            'say who will help and why: "notre service facturation corrigera la facture ; je lui ai transmis"',
            "ce n'est pas mon problème",
            "ce n'est pas de mon ressort",
        ),
        *_group(
            *_BUREAUCRATIC,
            "answer in plain words; cite the clause as a reference only",
            "lisez les conditions générales",
            "c'est dans les conditions générales",
        ),
    ),
}

#: How many words a ``...`` stands for, at most, and how many a phrase may have.
GAP_WORDS = 5
MAX_GAPS = 2

_APOSTROPHES = "'’‘ʼ`´"
_HYPHENS = "-‐‑"
#: A word a ``...`` stands for: anything up to a space or the end of a sentence (a masked
#: ``{{ value }}`` is one such word).
_WORD = r"[^\s.!?…]+"
_GAP = re.compile(r"(?:\s*(?:\.\.\.|…))+\s*")
_PIECE = re.compile(
    rf"(?P<space>\s+)|(?P<apostrophe>[{_APOSTROPHES}])|(?P<hyphen>[{_HYPHENS}])|(?P<other>.)", re.S
)
#: A Jinja tag or comment; ``{% raw %}`` text is written as it is, so only its tags are masked.
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_RAW = re.compile(r"(\{%-?\s*raw\s*-?%\})(.*?)(\{%-?\s*endraw\s*-?%\})", re.S)
_MASK = "\x00"


def key(text: str) -> str:
    """A phrase as compared with another: lower case, one apostrophe, single spaces."""
    text = re.sub(rf"[{_APOSTROPHES}]", "'", text.casefold())
    return " ".join(_GAP.sub(" ... ", text).split())


def unusable(text: str) -> str | None:
    """Why a phrase cannot be looked for, or None: it needs a word besides ``...`` (gaps alone
    would match everything), and at most :data:`MAX_GAPS` of them (each one multiplies the ways
    a text can be tried)."""
    if re.search(r"\w", _GAP.sub(" ", text)) is None:
        return "has no word to look for"
    if len(_GAP.findall(text)) > MAX_GAPS:
        return f"has more than {MAX_GAPS} `...`"
    return None


def _literal(text: str) -> str:
    pieces = []
    for piece in _PIECE.finditer(text):
        kind = piece.lastgroup
        if kind == "space":
            pieces.append(r"\s+")
        elif kind == "apostrophe":
            pieces.append(f"[{_APOSTROPHES}]")
        elif kind == "hyphen":
            pieces.append(rf"(?:[{_HYPHENS}]|\s+)")
        else:
            pieces.append(re.escape(piece.group()))
    return "".join(pieces)


@lru_cache(maxsize=2048)
def pattern(phrase: str) -> re.Pattern[str]:
    """The regular expression of a phrase (see the module's docstring)."""
    parts = [part.strip() for part in _GAP.split(phrase.strip())]
    out = []
    for i, part in enumerate(parts):
        if i and parts[i - 1] and part:
            out.append(rf"\s+(?:{_WORD}\s+){{1,{GAP_WORDS}}}?")
        elif i and part:  # a phrase that starts with ``...``: one word before it
            out.append(rf"(?<![^\s.!?…]){_WORD}\s+")
        elif i:  # a phrase that ends with ``...``: one word after it
            out.append(rf"(?:\s+{_WORD}){{1,{GAP_WORDS}}}?")
        out.append(_literal(part))
    start = r"(?<!\w)" if parts[0][:1].isalnum() else ""
    end = r"(?!\w)" if parts[-1][-1:].isalnum() else ""
    return re.compile(start + "".join(out) + end, re.IGNORECASE)


def written_text(template: str) -> str:
    """The template with every Jinja tag and comment blanked out (same length, same lines)."""
    raws: list[tuple[int, int]] = [(m.start(2), m.end(2)) for m in _RAW.finditer(template)]
    masked = list(template)
    for tag in _TAG.finditer(template):
        if any(start <= tag.start() < end for start, end in raws):
            continue  # text of a raw block, written as it is
        masked[tag.start() : tag.end()] = _MASK * (tag.end() - tag.start())
    return "".join(masked)


def find(text: str, phrases: Iterable[str]) -> Iterator[tuple[int, int, str, str]]:
    """``(line, col, found text, phrase)`` of each phrase in a template text, in text order."""
    written = written_text(text)
    hits = sorted(
        (
            (match.start(), -match.end(), phrase)
            for phrase in phrases
            for match in pattern(phrase).finditer(written)
        ),
    )
    covered = 0
    for start, minus_end, phrase in hits:
        if start < covered:
            continue  # inside a phrase already found (the longest of those starting together)
        covered = -minus_end
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        yield line, col, " ".join(text[start:covered].split()), phrase


def phrases_for(
    locale: str, *, builtin: bool, allow: Iterable[str], avoid: Mapping[str, Iterable[str]]
) -> dict[str, Phrase | str]:
    """The phrases looked for in templates in ``locale``: each with its built-in entry, or with
    the locale of ``avoid`` that lists it (``de`` for a template in ``de-AT``)."""
    return _phrases_for(
        locale, builtin, tuple(allow), tuple((code, tuple(texts)) for code, texts in avoid.items())
    )


@lru_cache(maxsize=256)
def _phrases_for(
    locale: str, builtin: bool, allow: tuple[str, ...], avoid_items: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, Phrase | str]:
    """:func:`phrases_for`, once per locale and tone settings (the result is only read)."""
    avoid = dict(avoid_items)
    language = locale.split("-")[0]
    allowed = {key(a) for a in allow}
    out: dict[str, Phrase | str] = {}
    if builtin:
        out.update((p.text, p) for p in BUILTIN.get(language, ()) if key(p.text) not in allowed)
    for code in dict.fromkeys((language, locale)):
        out.update((text, code) for text in avoid.get(code, ()) if unusable(text) is None)
    return out


@lru_cache(maxsize=4096)
def _found(text: str, phrases: tuple[str, ...]) -> tuple[tuple[int, int, str, str], ...]:
    """:func:`find`, once per template text and phrase list (a template shared by many policies,
    or validated again unchanged, is read once)."""
    return tuple(find(text, phrases))


def problems(
    file: str,
    text: str,
    phrases: Mapping[str, Phrase | str],
    *,
    line: int = 1,
    col: int = 1,
) -> list[PolicyError]:
    """A warning at each phrase found in ``text``, which starts at ``line`` and ``col`` of ``file``."""
    out = []
    for at_line, at_col, found, phrase in _found(text, tuple(phrases)):
        entry = phrases[phrase]
        if isinstance(entry, Phrase):
            message = f'"{found}" reads as {entry.reads_as}: {entry.why}'
            hint = entry.instead
        else:
            message = f'"{found}" is a phrase this policy avoids'
            hint = f"reword it (templates.tone.avoid.{entry} lists it)"
        out.append(
            PolicyError(
                file,
                line + at_line - 1,
                (col if at_line == 1 else 1) + at_col - 1,
                "",
                message,
                hint,
                "warning",
                "tone",
            )
        )
    return out


def unknown_allowed(text: str) -> str | None:
    """Why an ``allow`` entry does nothing (it names no built-in phrase), or None."""
    known = {key(p.text): p.text for phrases in BUILTIN.values() for p in phrases}
    if key(text) in known:
        return None
    return (
        did_you_mean(key(text), sorted(known))
        or "allow lists built-in phrases as the documentation writes them"
    )
