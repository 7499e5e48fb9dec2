"""Which characters the text a client sends may hold."""

import re

# No field here takes any of these. C0 controls, TAB included: CR and LF would let a
# name written into an email body start lines of its own, NUL cannot be stored in
# PostgreSQL text, and emails, passwords, codes, tokens and cursors never need one.
# DEL and the C1 controls (NEL is a line break to some readers) likewise. The line and
# paragraph separators break lines too, and the bidirectional embeddings, overrides
# and isolates reorder how the text around them is displayed (spoofed names, emails).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def first_unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that no input may hold, or None when it has none."""
    found = _UNSAFE.search(text)
    return found.group() if found else None
