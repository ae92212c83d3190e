"""Refuse weak new passwords offline, with zxcvbn and the lists it ships.

zxcvbn (the Rust implementation, through zxcvbn-rs-py) estimates how many guesses a
password needs from the frequency lists it ships: the most common passwords of real
breaches, English words, names, keyboard walks, dates, sequences and repeats, plus the
user's own email. Its score runs from 0 to 4; PASSWORD_MIN_STRENGTH (3 by default: about
10^8 guesses and up) refuses `12345678`, `password1`, eight spaces or the email's own name,
and the refusal says what was wrong and how to fix it, from zxcvbn's feedback.

Its l33t matcher tries every combination of symbol-for-letter substitutions, which grows
exponentially with the number of different such symbols, and its dictionary matching
grows with the square of the length: a crafted 128-character password takes seconds. So
the check reads the password only up to its first CHECKED_CHARACTERS characters, and stops
before the (MAX_L33T_SYMBOLS + 1)th different substitution symbol: about 40 ms at worst,
well under 1 ms for ordinary passwords. A strong beginning makes a strong password.
"""

from __future__ import annotations

from zxcvbn_rs_py import zxcvbn

CHECKED_CHARACTERS = 64
MAX_L33T_SYMBOLS = 10
# The characters zxcvbn's l33t matcher reads as letters (its L33T_TABLE).
L33T_SYMBOLS = frozenset("4@8({[<369!|170$5+%2")


class WeakPasswordError(ValueError):
    """What made the password weak, and how to choose a better one."""


def checked_part(password: str) -> str:
    """The beginning of ``password`` that zxcvbn can score in bounded time."""
    seen: set[str] = set()
    for index, character in enumerate(password[:CHECKED_CHARACTERS]):
        if character in L33T_SYMBOLS and character not in seen:
            if len(seen) == MAX_L33T_SYMBOLS:
                return password[:index]
            seen.add(character)
    return password[:CHECKED_CHARACTERS]


def check_strength(password: str, email: str, *, min_score: int) -> None:
    """Raise WeakPasswordError when ``password`` scores under ``min_score`` (0: no check)."""
    if min_score <= 0:
        return
    local, _, domain = email.partition("@")
    user_inputs = [email, local, domain, *domain.split(".")]
    result = zxcvbn(checked_part(password), user_inputs)
    if int(result.score) >= min_score:
        return
    feedback = result.feedback
    warning = str(feedback.warning) if feedback is not None and feedback.warning else ""
    suggestions = [str(item) for item in feedback.suggestions] if feedback is not None else []
    reason = warning or "It would be guessed too easily."
    advice = " ".join(suggestions) or "Add another word or two; uncommon words are better."
    raise WeakPasswordError(
        f"Password is too weak (strength {int(result.score)} of 4, at least {min_score} "
        f"needed): {reason} {advice}"
    )
