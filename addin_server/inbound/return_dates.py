"""The date an out-of-office message says its writer is back, read from its text in English,
French, German, Spanish, Italian, Dutch or Portuguese ("back on 3 January", "jusqu'au 12 mars").
Pure: the message's own date is an argument, never the clock.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january jan janvier janv januar jän enero ene gennaio gen januari janeiro",
        "february feb février fevrier févr fevr februar febrero febbraio februari fevereiro fev",
        "march mar mars märz maerz marzo maart março marco",
        "april apr avril avr abril aprile",
        "may mai mayo maggio mei maio",
        "june jun juin juni junio giugno junho",
        "july jul juillet juil juli julio luglio julho",
        "august aug août aout agosto augustus ago",
        "september sep sept septembre septiembre settembre setembro set",
        "october oct octobre oktober octubre ottobre okt oktober outubro out",
        "november nov novembre noviembre novembre novembro",
        "december dec décembre decembre déc dezember diciembre dicembre dic dezembro dez",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _number)

_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DAY = r"(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|e|\.|º)?"
_YEAR = r"(?:,?\s*(?P<y>\d{4}))?"
_DATE_PATTERNS = [
    re.compile(r"(?P<iso>(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2}))"),
    re.compile(_DAY + r"\s*(?:de\s+|of\s+)?(?P<m>" + _MONTH_RE + r")\.?(?:\s+de)?" + _YEAR + r"\b",
               re.I),
    re.compile(r"(?P<m>" + _MONTH_RE + r")\.?\s+" + _DAY + _YEAR + r"\b", re.I),
    re.compile(r"(?P<nd>[0-3]?\d)[./](?P<nm>[01]?\d)(?:[./](?P<ny>\d{2,4}))?\b"),
]
# A cue says the date is the day back ("back on") or the last day away ("until").
_BACK_CUES = re.compile(
    r"\b(back (?:in the office )?(?:on|by)?|return(?:ing)? (?:to the office )?(?:on)?|"
    r"returns? on|in the office (?:on|from)|available (?:again )?(?:on|from)|"
    r"de retour (?:au bureau )?(?:le|à partir du)?|retour (?:prévu )?le|à partir du|"
    r"zurück (?:am|ab)?|wieder (?:im büro )?(?:am|ab)?|ab dem|ab|"
    r"de vuelta (?:el)?|regreso (?:el)?|a partir del|"
    r"di ritorno (?:il)?|rientro (?:il)?|"
    r"terug (?:op)?|vanaf|de volta (?:em|no dia)?)\s*",
    re.I,
)
_UNTIL_CUES = re.compile(
    r"\b(until|till|through|thru|to|jusqu'?au|jusqu’au|au|bis (?:zum|einschließlich)?|bis|"
    r"hasta (?:el)?|fino al|al|tot en met|tot|até)\s*",
    re.I,
)
_WEEKDAY = re.compile(
    r"^(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|lundi|mardi|mercredi|jeudi|vendredi|"
    r"samedi|dimanche|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lunes|"
    r"martes|miércoles|jueves|viernes|lunedì|martedì|mercoledì|giovedì|venerdì|"
    r"maandag|dinsdag|woensdag|donderdag|vrijdag|segunda|terça|quarta|quinta|sexta)"
    r"(?:[- ]feira)?,?\s*(?:the\s+|den\s+|le\s+|el\s+|il\s+)?",
    re.I,
)


def _date_at(text: str, pos: int, sent: date | None) -> date | None:
    """A date written right at `pos` (after an optional weekday)."""
    rest = text[pos: pos + 60]
    weekday = _WEEKDAY.match(rest)
    if weekday:
        rest = rest[weekday.end():]
    for pattern in _DATE_PATTERNS:
        m = pattern.match(rest)
        if m:
            found = _to_date(m, sent)
            if found is not None:
                return found
    return None


def _to_date(m: re.Match[str], sent: date | None) -> date | None:
    groups = m.groupdict()
    try:
        if groups.get("iso"):
            return date(int(groups["iy"]), int(groups["im"]), int(groups["id"]))
        if groups.get("nd"):
            day, month, year = int(groups["nd"]), int(groups["nm"]), groups.get("ny")
        else:
            day = int(groups["d"])
            month = _MONTHS[groups["m"].lower()]
            year = groups.get("y")
        if year is not None:
            y = int(year)
            return date(y + 2000 if y < 100 else y, month, day)
        base = sent or date.today()  # only when the message has no Date header
        candidate = date(base.year, month, day)
        if candidate < base - timedelta(days=7):  # "back on 3 January" written in December
            candidate = date(base.year + 1, month, day)
        return candidate
    except (ValueError, KeyError):
        return None


def return_date(text: str, sent: date | None) -> date | None:
    """The first day back, when an out-of-office message writes one.

    "back on 2 December" and "de retour le 3 décembre" give that day; "until 1 December" and
    "jusqu'au 2 décembre" give the day after. Numeric dates are read day first (02.12.2026,
    02/12/2026), as most of the world writes them; ISO dates are read as such. A date before
    the message or more than a year after it is ignored.
    """
    flat = re.sub(r"\s+", " ", text)
    found: list[tuple[int, date]] = []
    for cues, shift in ((_BACK_CUES, 0), (_UNTIL_CUES, 1)):
        for cue in cues.finditer(flat):
            day = _date_at(flat, cue.end(), sent)
            if day is None:
                continue
            day += timedelta(days=shift)
            if sent is not None and not (sent <= day <= sent + timedelta(days=366)):
                continue
            found.append((cue.start(), day))
    if not found:
        return None
    # Several cues ("away from 1 Dec until 5 Dec, back on 6 Dec"): the latest date wins, as a
    # person is not back before the end of what they wrote.
    return max(day for _, day in found)
