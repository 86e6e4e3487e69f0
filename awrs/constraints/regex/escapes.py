r"""The character level of the regex reader: one character, an escape, a bracketed class.

:class:`CharReader` holds the reader's position and flags; :class:`~awrs.constraints.regex.parser.Parser`
builds the group structure on it. Sets of characters are evaluated by
:mod:`awrs.constraints.regex.classes` (exact, with the regex module's Unicode data).
"""

from __future__ import annotations

import re
from typing import Any

import regex

from awrs.constraints.regex import classes
from awrs.constraints.regex.classes import ANY, Ranges, merge
from awrs.constraints.regex.tree import UnsupportedSyntax

__all__ = ["NOT_NEWLINE", "POSIX_CLASS", "CharReader"]

NOT_NEWLINE: Ranges = ((0, 9), (11, 0xD7FF), (0xE000, 0x10FFFF))
_CONTROL = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_ANCHORS = set("AZzbBGmM")
#: A POSIX class inside a bracketed class (``[:alpha:]``, ``[:^digit:]``).
POSIX_CLASS = re.compile(r"\[:\^?\w+:\]")
_OCTAL_TAIL = re.compile(r"[0-7]{0,2}")


class CharReader:
    """The pattern ``p`` read from position ``i``; ``flags`` holds the inline-flag letters in
    force, ``notes`` what the tree over-approximates, ``spelled`` the sets the pattern handed
    to the regex module spells out (see :class:`~awrs.constraints.regex.syntax.Parsed`)."""

    def __init__(self, pattern: str, unicode: bool, flags: set[str]):
        self.p = pattern
        self.i = 0
        self.ascii_mode = not unicode
        self.flags: set[str] = set(flags) | ({"a"} if self.ascii_mode else set())
        self.notes: list[str] = []
        self.spelled: list[tuple[int, int, bool, Ranges]] = []

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def take(self, s: str) -> bool:
        if self.p.startswith(s, self.i):
            self.i += len(s)
            return True
        return False

    def until(self, end: str) -> str:
        j = self.p.find(end, self.i)
        if j < 0:
            raise UnsupportedSyntax(f"no closing {end!r}")
        out, self.i = self.p[self.i : j], j + len(end)
        return out

    @property
    def ascii(self) -> bool:
        """Shorthand classes and ignore-case are ASCII where the pattern is."""
        return "a" in self.flags

    def literal(self, cp: int) -> Ranges:
        """One character, with its case variants under the ignore-case flag."""
        if 0xD800 <= cp <= 0xDFFF:  # a lone surrogate: no UTF-8 text holds one
            return ()
        return classes.case_closure(((cp, cp),), self.ascii) if "i" in self.flags else ((cp, cp),)

    def escape(self):
        c = self.peek()
        if not c:
            raise UnsupportedSyntax("a trailing backslash")
        self.i += 1
        if c in _ANCHORS:
            return ("anchor", "\\" + c)
        if c.isdigit() and c != "0":
            three = self.p[self.i - 1 : self.i + 2]
            if len(three) == 3 and all(d in "01234567" for d in three):  # \ooo: an octal escape
                self.i += 2
                return ("set", self.literal(int(three, 8)))
            digits = c
            if self.peek().isdigit():
                digits += self.peek()
                self.i += 1
            return self.ref(int(digits), "a back-reference")
        if c == "g" and self.take("<"):
            return self.ref(self.until(">"), "a back-reference")
        if c == "X":
            self.notes.append("a grapheme cluster (\\X)")
            return ("rep", ("set", ANY), 1, None)
        if c in "pP":
            return ("set", self.property(self.i - 2, inside=False))
        if c.lower() in classes.ASCII_SHORTHANDS:
            return ("set", self.shorthand(c))
        return ("set", self.literal(self.char_escape(c)))

    def shorthand(self, letter: str) -> Ranges:
        ranges = classes.shorthand(letter, self.ascii)
        return classes.case_closure(ranges, self.ascii) if "i" in self.flags else ranges

    def property(self, start: int, inside: bool) -> Ranges:
        r"""``\p{..}``/``\P{..}``/``\pX`` starting at ``start`` (``self.i`` after its letter).

        In ASCII mode a property keeps its Unicode meaning (the regex module's ASCII flag would
        make it ASCII-only: the pattern handed to it spells the set out, see ``spelled``)."""
        if self.take("{"):
            self.until("}")
        elif self.peek():
            self.i += 1
        else:
            raise UnsupportedSyntax("a truncated property")
        text = self.p[start : self.i]
        ignorecase = "i" in self.flags
        try:
            if self.ascii_mode:
                ranges = classes.scan(text, False, False)
                self.spelled.append((start, self.i, inside, ranges))
                return classes.case_closure(ranges, True) if ignorecase else ranges
            return classes.scan(text, self.ascii, ignorecase)
        except regex.error as exc:
            raise UnsupportedSyntax(f"property {text!r}: {exc}") from None

    def posix(self, start: int, text: str) -> Ranges:
        """A POSIX class (inside a bracketed class). In ASCII mode it is read without the flag
        and case-folded as ASCII, and spelled out for the regex module, whose ASCII
        ignore-case matching of POSIX classes and properties differs between a single
        character and a repeat of them (``[[:lower:]]`` takes ``T``, ``[[:lower:]]+`` not)."""
        try:
            if self.ascii_mode:
                ranges = classes.scan(f"[{text}]", True, False)
                self.spelled.append((start, self.i, True, ranges))
                return classes.case_closure(ranges, True) if "i" in self.flags else ranges
            return classes.scan(f"[{text}]", self.ascii, "i" in self.flags)
        except regex.error as exc:
            raise UnsupportedSyntax(f"POSIX class {text!r}: {exc}") from None

    def char_escape(self, c: str) -> int:
        """The code point of an escape that stands for one character (after the backslash)."""
        if c in _CONTROL:
            return _CONTROL[c]
        if c == "0":
            m = _OCTAL_TAIL.match(self.p, self.i)
            assert m is not None, "[0-7]{0,2} matches the empty string too"
            self.i = m.end()
            return int("0" + m.group(0), 8)
        width = {"x": 2, "u": 4, "U": 8}.get(c)
        if width:
            digits = self.p[self.i : self.i + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise UnsupportedSyntax(f"escape \\{c}")
            self.i += width
            value = int(digits, 16)
            if value > 0x10FFFF:
                raise UnsupportedSyntax(f"escape \\{c}{digits} beyond U+10FFFF")
            return value
        if c == "N" and self.take("{"):
            name = self.until("}")
            found = classes.named_character(name)
            if found is None:
                raise UnsupportedSyntax(f"character name {name!r}")
            return found
        if c.isalnum() or c == "_":
            raise UnsupportedSyntax(f"escape \\{c}")
        return ord(c)

    def char_class(self) -> Ranges:
        """A bracketed class (after its ``[``): the complement, when negated, of the union of
        its members — literal characters and ranges and shorthand classes (with their case
        variants under ignore-case) and properties (evaluated under the flag)."""
        negate = self.take("^")
        literal: list[tuple[int, int]] = []
        evaluated: list[tuple[int, int]] = []
        first = True
        while True:
            c = self.peek()
            if not c:
                raise UnsupportedSyntax("unclosed character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            kind, value = self.class_member()
            if kind == "char" and self.peek() == "-" and self.peek(1) not in ("]", ""):
                save = self.i
                self.i += 1
                kind2, hi = self.class_member()
                if kind2 != "char":  # a range to a class is a literal "-" and that class
                    self.i = save
                else:
                    if hi < value:
                        raise UnsupportedSyntax("bad character range")
                    literal.append((value, hi))
                    continue
            if kind == "char":
                literal.append((value, value))
            elif kind == "set":
                literal.extend(value)
            else:
                evaluated.extend(value)
        members = classes.without_surrogates(merge(literal))
        if "i" in self.flags and members:
            members = classes.case_closure(members, self.ascii)
        union = merge(list(members) + evaluated)
        return classes.negate(union) if negate else union

    def class_member(self) -> tuple[str, Any]:
        """One member of a class: ("char", code point), ("set", ranges) for a shorthand class,
        or ("evaluated", ranges) for a property or POSIX class (flags already applied)."""
        start = self.i
        c = self.p[self.i]
        if c == "[" and (m := POSIX_CLASS.match(self.p, self.i)) is not None:
            self.i = m.end()
            return "evaluated", self.posix(start, m.group(0))
        self.i += 1
        if c != "\\":
            return "char", ord(c)
        e = self.peek()
        if not e:
            raise UnsupportedSyntax("unterminated character set")
        self.i += 1
        if e in "pP":
            return "evaluated", self.property(start, inside=True)
        if e.lower() in classes.ASCII_SHORTHANDS:
            return "set", classes.shorthand(e, self.ascii)
        if e == "b":
            return "char", 8
        if e.isdigit() and e not in "089":  # \1..\7: an octal escape of up to three digits
            m = _OCTAL_TAIL.match(self.p, self.i)
            assert m is not None, "[0-7]{0,2} matches the empty string too"
            self.i = m.end()
            return "char", int(e + m.group(0), 8)
        return "char", self.char_escape(e)

    def ref(self, target, what: str):
        self.notes.append(what)
        return ("ref", int(target) if isinstance(target, str) and target.isdigit() else target)
