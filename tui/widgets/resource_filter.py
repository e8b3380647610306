"""The `/` filter of the resources table (k9s habits).

    web            regular expression, case-insensitive (a broken one matches literally)
    -f wb  or ~wb  fuzzy: the letters in order (Textual's fuzzy matcher)
    !web           inverts (combine: !~wb, !-f wb)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from textual.fuzzy import Matcher


@dataclass(frozen=True)
class ResourceFilter:
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.text.strip())

    def describe(self) -> str:
        return self.text.strip()

    def matcher(self) -> Callable[[str], bool]:
        query = self.text.strip()
        invert = False
        if query.startswith("!"):
            invert, query = True, query[1:].lstrip()
        if not query:
            return lambda haystack: not invert
        if query.startswith("-f ") or query.startswith("~"):
            fuzzy = Matcher(query[3:] if query.startswith("-f ") else query[1:], case_sensitive=False)
            test = lambda haystack: fuzzy.match(haystack) > 0  # noqa: E731
        else:
            try:
                pattern = re.compile(query, re.IGNORECASE)
            except re.error:
                pattern = re.compile(re.escape(query), re.IGNORECASE)
            test = lambda haystack: pattern.search(haystack) is not None  # noqa: E731
        if invert:
            return lambda haystack: not test(haystack)
        return test
