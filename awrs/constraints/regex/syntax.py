r"""The ``regex`` module's pattern syntax (version 0), read into a small syntax tree.

:func:`parse` reads a pattern that the ``regex`` module compiles. Where the tree can only
*over-approximate* the pattern it says so (``Parsed.notes``), and
:mod:`awrs.constraints.regex.automaton` turns the tree into a character automaton — exact for
regular patterns, a regular superset (an *envelope*) for the rest.

Character classes are exact: :mod:`awrs.constraints.regex.classes` evaluates what depends on
Unicode data (shorthand classes in Unicode mode, properties, POSIX classes, ignore-case) with
the regex module itself. Inline flags are exact too: ``(?i)`` in the middle of a group holds
to the end of that group, as in the regex module; ``(?-i)`` and ``(?i-s:...)`` turn flags off.

Approximations, each giving a superset of the pattern's language: a look-around or a word
boundary matches always; a back-reference or a subroutine call matches a string of the group
it names (for recursion: any string of the group's characters); a conditional matches either
branch; atomic groups and possessive quantifiers backtrack; verbs are dropped; ``\X`` matches
one or more of any character. Syntax outside this list (fuzzy matching, ``\K``, ``\R``, the
``f``, ``w``, ``r`` and ``L`` flags, an ASCII flag inside a group — the regex module gives it
rules of its own —, ``\L<..>``) raises :class:`UnsupportedSyntax`.

The reader never recurses on the pattern's nesting: its recursive descent runs on an
explicit stack (:func:`run_nested`), so a pattern nested 100,000 groups deep is read in
linear time. The ``regex`` module's own compiler does recurse; :func:`nesting_depth` lets
callers refuse such patterns before they reach it.

Semantics are those of :class:`awrs.Regex`: ``fullmatch``; in Unicode mode (the default)
``\d \w \s`` are the regex module's Unicode classes; in ASCII mode they are ASCII classes,
ignore-case pairs ASCII letters only, and ``\p{..}`` keeps its Unicode meaning
(``Parsed.spelled`` gives where, so that the pattern handed to the regex module can spell it
out); ``.`` matches no newline unless ``(?s)``.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

import regex

from awrs.constraints.regex import classes
from awrs.constraints.regex.classes import ANY, Ranges, merge

__all__ = [
    "ANY",
    "EMPTY",
    "MAX_NESTING",
    "Parsed",
    "Ranges",
    "UnsupportedSyntax",
    "merge",
    "nesting_depth",
    "parse",
    "parses_exactly",
    "run_nested",
]

NOT_NEWLINE: Ranges = ((0, 9), (11, 0xD7FF), (0xE000, 0x10FFFF))
_CONTROL = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_ANCHORS = set("AZzbBGmM")
_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_FUZZY = re.compile(r"\{[^}]*[<=>]")
_POSIX = re.compile(r"\[:\^?\w+:\]")
_GROUP_NUMBER = re.compile(r"R|[+-]?\d+")
_FLAG_LETTERS = set("aimsxuLfwbeVr0123456789p")
#: Characters that begin something other than a plain literal character.
_SPECIAL = frozenset("\\[](){}.*+?|^$")
#: Flags that change the language in ways the reader does not model.
_UNMODELLED_FLAGS = set("Lfwr")
#: Groups nested deeper than this are refused (:func:`nesting_depth`): the regex module's
#: compiler recurses about twice per level and fails near 450 levels under Python's default
#: recursion limit of 1,000; 100 leaves room for the caller's own stack. Real patterns
#: rarely nest past 10.
MAX_NESTING = 100


class UnsupportedSyntax(Exception):
    """The pattern uses syntax this reader does not model (no automaton is made)."""


# --- the syntax tree ----------------------------------------------------------------------
# ("set", ranges) one character; ("seq", items); ("alt", branches); ("rep", node, lo, hi|None);
# ("cap", index, node) a capturing group; ("ref", index|name) a back-reference or call;
# ("anchor", kind); ("look", "=" | "!" | "<=" | "<!", node) a look-around; ("empty",).
# A lazy or possessive repeat carries its mode: ("rep", node, lo, hi, "lazy" | "possessive")
# (the same language as the greedy one; the order of preference differs, which matters where
# the first match counts: a grammar's terminals).

EMPTY = ("empty",)
#: What a comment or an inline flag group leaves: nothing, which (unlike an empty group) no
#: quantifier may follow.
NOTHING = ("empty", "nothing")


@dataclass(frozen=True)
class Parsed:
    """A pattern's tree, its groups (index -> the trees of the groups with that index; group 0
    is the whole pattern), group names, and what the tree over-approximates (empty: exact).

    ``spelled`` (ASCII mode only): ``(start, end, inside_class, ranges)`` for each ``\\p``,
    ``\\P`` escape or POSIX class, the set it stands for without ignore-case, which the
    pattern handed to the regex module spells out."""

    tree: tuple
    groups: dict[int, list]
    names: dict[str, int]
    notes: tuple[str, ...]
    spelled: tuple[tuple[int, int, bool, Ranges], ...] = ()


def parse(pattern: str, *, unicode: bool = False, flags: Iterable[str] = ()) -> Parsed:
    r"""Read ``pattern`` (one the ``regex`` module compiles, or UnsupportedSyntax is likely).

    ``unicode`` is the matching mode: True for Unicode classes (``awrs.Regex``'s default), False
    for ASCII mode (``re.ASCII``, JSON Schema patterns, grammar terminals). ``flags`` are the
    inline-flag letters in force at the start (``"imsx"``). Raises :class:`UnsupportedSyntax`
    for syntax outside the module docstring's list. Linear in the pattern's length.
    """
    parser = _Parser(pattern, unicode, set(flags))
    tree = run_nested(parser.parse())
    notes = list(parser.notes)
    if _misplaced_anchors(tree):
        notes.append("an anchor or word boundary inside the pattern")
    groups = dict(parser.groups)
    groups[0] = [tree]
    return Parsed(tree, groups, dict(parser.names), tuple(sorted(set(notes))), tuple(parser.spelled))


def parses_exactly(pattern: str) -> bool:
    """True when the reader reads ``pattern`` (ASCII mode) without approximating anything.

    Such a pattern is one the ``regex`` module compiles: the reader refuses whatever the module
    refuses (a test checks 30,000 random patterns), so a caller that only needs to know that a
    pattern is valid can skip the module's compile, which costs several times more.
    """
    if nesting_depth(pattern) > MAX_NESTING:
        return False
    try:
        return not parse(pattern).notes
    except (UnsupportedSyntax, IndexError, ValueError, regex.error):
        return False


def nesting_depth(pattern: str) -> int:
    """How deeply the pattern's groups nest: the most parentheses open at once outside
    character classes and comments (an upper bound in verbose mode, where a ``#`` comment may
    hold parentheses). Linear, without recursion."""
    depth = deepest = i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "(":
            if pattern.startswith("(?#", i):
                j = pattern.find(")", i)
                i = n if j < 0 else j + 1
                continue
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class opening at ``i`` (the end of the pattern if it is
    not closed)."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        j += 1
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
        elif c == "]":
            return j + 1
        elif (m := _POSIX.match(pattern, j)) is not None:
            j = m.end()
        else:
            j += 1
    return len(pattern)


Nested = Generator[Any, Any, Any]


def run_nested(root: Nested) -> Any:
    """Run a recursive computation written as generators without recursing: a generator
    ``yield``s the generator of a sub-computation and is sent back its result. Exceptions
    propagate to the caller. The stack lives in a list, so depth costs memory, not frames."""
    stack = [root]
    value = None
    while True:
        try:
            sub = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            if not stack:
                return stop.value
            value = stop.value
            continue
        stack.append(sub)
        value = None


class _Parser:
    """Recursive descent over the pattern; every method that descends is a generator run by
    :func:`run_nested`. ``flags`` holds the inline-flag letters in force."""

    def __init__(self, pattern: str, unicode: bool, flags: set[str]):
        self.p = pattern
        self.i = 0
        self.ascii_mode = not unicode
        self.flags: set[str] = set(flags) | ({"a"} if self.ascii_mode else set())
        self.notes: list[str] = []
        self.groups: dict[int, list] = {}
        self.names: dict[str, int] = {}
        self.count = 0
        self.spelled: list[tuple[int, int, bool, Ranges]] = []

    # -- helpers
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

    def skip_verbose(self) -> None:
        if "x" not in self.flags:
            return
        while self.i < len(self.p):
            c = self.p[self.i]
            if c.isspace():
                self.i += 1
            elif c == "#":
                j = self.p.find("\n", self.i)
                self.i = len(self.p) if j < 0 else j + 1
            else:
                return

    # -- grammar
    def parse(self) -> Nested:
        node = yield self.alternation()
        if self.i != len(self.p):
            raise UnsupportedSyntax(f"unbalanced parenthesis at {self.i}")
        return node

    def alternation(self, branch_reset: bool = False) -> Nested:
        start_count, top = self.count, self.count
        branches = [(yield self.sequence())]
        while self.take("|"):
            top = max(top, self.count)
            if branch_reset:
                self.count = start_count
            branches.append((yield self.sequence()))
        if branch_reset:
            self.count = max(top, self.count)
        return branches[0] if len(branches) == 1 else ("alt", tuple(branches))

    def sequence(self) -> Nested:
        items = []
        while True:
            self.skip_verbose()
            c = self.peek()
            if c in ("", "|", ")"):
                break
            if c in _SPECIAL or ("x" in self.flags and (c.isspace() or c == "#")):
                atom = yield self.atom()
            else:  # a plain character (most of a long literal): no descent
                self.i += 1
                atom = ("set", self.literal(ord(c)))
            atom = self.quantified(atom)
            if atom is not EMPTY and atom is not NOTHING:
                items.append(atom)
        return items[0] if len(items) == 1 else ("seq", tuple(items)) if items else EMPTY

    def quantified(self, atom):
        self.skip_verbose()
        c = self.peek()
        if c and c in "*+?":
            self.i += 1
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        elif c == "{" and (m := _QUANTIFIER.match(self.p, self.i)) and (m.group(1) or m.group(3) or m.group(2)):
            self.i = m.end()
            lo = int(m.group(1) or 0)
            hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
            if hi is not None and lo > hi:
                raise UnsupportedSyntax("min repeat greater than max repeat")
        else:
            return atom
        if atom is NOTHING:
            raise UnsupportedSyntax("nothing to repeat")
        mode = None
        if self.take("+"):
            self.notes.append("a possessive quantifier")
            mode = "possessive"
        elif self.take("?"):  # lazy: the same language, another order of preference
            mode = "lazy"
        self.skip_verbose()
        c = self.peek()
        if c and (c in "*+?" or (c == "{" and _QUANTIFIER.match(self.p, self.i))):
            raise UnsupportedSyntax("multiple repeat")
        if atom[0] == "anchor":
            return atom
        if atom[0] == "look":  # a look-around repeated: itself, or nothing when it may be skipped
            return atom if lo >= 1 else EMPTY
        return ("rep", atom, lo, hi) if mode is None else ("rep", atom, lo, hi, mode)

    def atom(self) -> Nested:
        c = self.p[self.i]
        self.i += 1
        if c == "(":
            return (yield self.group())
        if c == "[":
            return ("set", self.char_class())
        if c == ".":
            return ("set", ANY if "s" in self.flags else NOT_NEWLINE)
        if c == "^":
            return ("anchor", "^")
        if c == "$":
            return ("anchor", "$")
        if c == "\\":
            return self.escape()
        if c in "*+?":
            raise UnsupportedSyntax(f"nothing to repeat at {self.i - 1}")
        if c == "{" and (_FUZZY.match(self.p, self.i - 1) or self.peek() in ("e", "i", "d", "s")):
            raise UnsupportedSyntax("fuzzy matching")
        if c == "{" and _QUANTIFIER.match(self.p, self.i - 1):
            raise UnsupportedSyntax(f"nothing to repeat at {self.i - 1}")
        return ("set", self.literal(ord(c)))

    def group(self) -> Nested:
        if self.take("*"):  # a verb: (*FAIL) matches nothing, the others only cut backtracking
            verb = self.until(")")
            if verb in ("FAIL", "F"):
                return ("set", ())
            self.notes.append("a backtracking verb")
            return EMPTY
        if not self.take("?"):
            return (yield self.capture(None))
        if self.take("#"):
            self.until(")")
            return NOTHING
        if self.take(":"):
            return (yield self.body())
        if self.take("P<") or (self.peek() == "<" and self.peek(1) not in "=!" and self.take("<")):
            return (yield self.capture(self.until(">")))
        if self.take("P="):
            return self.ref(self.until(")"), "a back-reference")
        if self.take("P>") or self.take("&"):
            return self.ref(self.until(")"), "a subroutine call")
        for head in ("=", "!", "<=", "<!"):
            if self.take(head):
                node = yield self.body()  # its groups count; automata read it as matching always
                self.notes.append("a look-around")
                return ("look", head, node)
        if self.take(">"):
            self.notes.append("an atomic group")
            return (yield self.body())
        if self.take("|"):
            return (yield self.body(branch_reset=True))
        if self.take("("):
            return (yield self.conditional())
        m = _GROUP_NUMBER.match(self.p, self.i)
        if m and self.p.startswith(")", m.end()):
            self.i = m.end() + 1
            text = m.group(0)
            target = 0 if text == "R" else int(text)
            if text[0] == "+":
                target = self.count + target
            elif text[0] == "-":
                target = self.count + 1 + target
            return self.ref(target, "a subroutine call")
        return (yield self.flag_group())

    def body(self, branch_reset: bool = False) -> Nested:
        """A group's alternation up to its ``)``; inline flags set inside end with it."""
        saved = set(self.flags)
        node = yield self.alternation(branch_reset)
        if not self.take(")"):
            raise UnsupportedSyntax("unclosed group")
        self.flags = saved
        return node

    def capture(self, name: str | None) -> Nested:
        if name is not None and not name.isidentifier():  # the regex module's rule too
            raise UnsupportedSyntax(f"group name {name!r}")
        if name in self.names:  # a repeated name is the same group
            index = self.names[name]
        else:
            self.count += 1
            index = self.count
            if name is not None:
                self.names[name] = index
        node = yield self.body()
        self.groups.setdefault(index, []).append(node)
        return ("cap", index, node)

    def ref(self, target, what: str):
        self.notes.append(what)
        return ("ref", int(target) if isinstance(target, str) and target.isdigit() else target)

    def conditional(self) -> Nested:
        if self.take("?"):  # a look-around condition
            if not any(self.take(h) for h in ("=", "!", "<=", "<!")):
                raise UnsupportedSyntax("conditional")
            yield self.body()
        else:
            cond = self.until(")")
            if cond == "DEFINE":
                yield self.body()  # defines groups for calls; matches the empty string
                return EMPTY
        self.notes.append("a conditional group")
        node = yield self.body()
        return node if node[0] == "alt" else ("alt", (node, EMPTY))

    def flag_group(self) -> Nested:
        """``(?flags)`` (in force to the end of the enclosing group) or ``(?flags:...)``."""
        on = ""
        while self.peek() in _FLAG_LETTERS and self.peek():
            on += self.p[self.i]
            self.i += 1
        off = ""
        if self.take("-"):
            while self.peek().isalpha():
                off += self.p[self.i]
                self.i += 1
        if "V1" in on or set(on + off) & _UNMODELLED_FLAGS:
            raise UnsupportedSyntax(f"inline flags {on!r}")
        if ("a" in on and not self.ascii_mode) or ("u" in on and self.ascii_mode):
            # ASCII mode is global (re.ASCII, or (?a) at the top level anywhere: the regex module
            # then makes the whole pattern ASCII). Inside a group the regex module's ASCII flag
            # is local to odd rules (a nested group goes back to Unicode classes, ignore-case
            # stays Unicode): such a pattern is left to the module.
            raise UnsupportedSyntax(f"inline flags {on!r} inside a group")
        if not set(off) <= set("imsx"):
            raise UnsupportedSyntax(f"inline flags turned off: {off!r}")
        flags = (self.flags | (set(on) & set("imsx"))) - set(off)
        if self.take(":"):
            saved = self.flags
            self.flags = flags
            node = yield self.body()
            self.flags = saved
            return node
        if not self.take(")"):
            raise UnsupportedSyntax(f"group syntax at {self.i}")
        self.flags = flags
        return NOTHING

    # -- escapes and classes
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
            m = re.compile(r"[0-7]{0,2}").match(self.p, self.i)
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
        if c == "[" and (m := _POSIX.match(self.p, self.i)) is not None:
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
            m = re.compile(r"[0-7]{0,2}").match(self.p, self.i)
            self.i = m.end()
            return "char", int(e + m.group(0), 8)
        return "char", self.char_escape(e)


def _misplaced_anchors(node) -> bool:
    """Any anchor other than leading ``^``/``\\A`` and trailing ``$``/``\\Z``/``\\z`` of the top
    level (no-ops under fullmatch)."""
    items = list(node[1]) if node[0] == "seq" else [node]
    while items and items[0][0] == "anchor" and items[0][1] in ("^", "\\A"):
        items.pop(0)
    while items and items[-1][0] == "anchor" and items[-1][1] in ("$", "\\Z", "\\z"):
        items.pop()
    return any(_has_anchor(item) for item in items)


def _has_anchor(root) -> bool:
    """Whether an anchor occurs in the tree (looked for without recursion; look-arounds are
    notes of their own)."""
    stack = [root]
    while stack:
        node = stack.pop()
        kind = node[0]
        if kind == "anchor":
            return True
        if kind in ("seq", "alt"):
            stack.extend(node[1])
        elif kind == "rep":
            stack.append(node[1])
        elif kind == "cap":
            stack.append(node[2])
    return False
