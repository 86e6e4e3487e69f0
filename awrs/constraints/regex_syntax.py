r"""The ``regex`` module's pattern syntax (version 0), read into a small syntax tree.

:func:`parse` reads a pattern that the ``regex`` module has already compiled. Where the tree
can only *over-approximate* the pattern it says so (``Parsed.notes``), and
:mod:`awrs.constraints.regex_automaton` turns the tree into a character automaton — exact for
regular patterns, a regular superset (an *envelope*) for the rest.

Approximations, each giving a superset of the pattern's language: a look-around or a word
boundary matches always; a back-reference or a subroutine call matches a string of the group
it names (for recursion: any string of the group's characters); a conditional matches either
branch; atomic groups and possessive quantifiers backtrack; verbs are dropped; Unicode
properties, POSIX classes and set operations are evaluated by the regex module on the
characters below U+0800 and keep every character above; ``\X`` matches one or more of any
character; a repeat above ``MAX_REPEAT`` copies is left unbounded; an inline flag past the
start applies to the rest of the pattern. Syntax outside this list (fuzzy matching, ``\K``,
the ``f`` and ``r`` flags, ``\L<..>``) raises :class:`UnsupportedSyntax`.

Semantics are those of :class:`awrs.Regex`: ``fullmatch``, ASCII ``\d \w \s``, ``.`` without
newline unless ``(?s)``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import regex

from awrs.constraints.utf8 import MAX_CODE_POINT, complement_ranges

__all__ = ["ANY", "EMPTY", "Parsed", "Ranges", "UnsupportedSyntax", "ascii_shorthands", "merge", "parse", "parses_exactly"]

Ranges = tuple[tuple[int, int], ...]
ANY: Ranges = ((0, 0xD7FF), (0xE000, MAX_CODE_POINT))
NOT_NEWLINE: Ranges = ((0, 9), (11, 0xD7FF), (0xE000, MAX_CODE_POINT))
_DIGIT: Ranges = ((48, 57),)
_WORD: Ranges = ((48, 57), (65, 90), (95, 95), (97, 122))
_SPACE: Ranges = ((9, 13), (32, 32))
_CLASS_ESCAPES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_CONTROL = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_ANCHORS = set("AZzbBGmM")
#: In Unicode mode the regex module also folds these ASCII letters with a non-ASCII character.
_UNICODE_FOLDS = {"i": 0x130, "k": 0x212A, "s": 0x17F}
_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_FUZZY = re.compile(r"\{[^}]*[<=>]")
_FLAG_LETTERS = set("aimsxuLfwbeVr0123456789p")
#: Classes read by the regex module are evaluated exactly on the 1- and 2-byte UTF-8 characters.
_EVALUATED_UP_TO = 0x800
_BELOW_EVALUATED = "".join(map(chr, range(_EVALUATED_UP_TO)))


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
    is the whole pattern), group names, and what the tree over-approximates (empty: exact)."""

    tree: tuple
    groups: dict[int, list]
    names: dict[str, int]
    notes: tuple[str, ...]


def parse(pattern: str, *, unicode: bool = False) -> Parsed:
    r"""Read ``pattern`` (already known to compile with the ``regex`` module).

    ``unicode`` is the matching mode: False for awrs's default ASCII flag, True for patterns
    compiled without it (those with ``\p``, ``\P`` or ``\N``). Raises
    :class:`UnsupportedSyntax` for syntax outside the module docstring's list.
    """
    parser = _Parser(pattern, unicode)
    tree = parser.parse()
    notes = list(parser.notes)
    if _misplaced_anchors(tree):
        notes.append("an anchor or word boundary inside the pattern")
    groups = dict(parser.groups)
    groups[0] = [tree]
    return Parsed(tree, groups, dict(parser.names), tuple(sorted(set(notes))))


def parses_exactly(pattern: str) -> bool:
    """True when the reader reads ``pattern`` (ASCII mode) without approximating anything.

    Such a pattern is one the ``regex`` module compiles: the reader refuses whatever the module
    refuses (a test checks 30,000 random patterns), so a caller that only needs to know that a
    pattern is valid can skip the module's compile, which costs several times more.
    """
    try:
        return not parse(pattern).notes
    except (UnsupportedSyntax, RecursionError, IndexError, ValueError):
        return False


class _Parser:
    def __init__(self, pattern: str, unicode: bool):
        self.p = pattern
        self.i = 0
        self.unicode = unicode
        self.flags: set[str] = set()
        self.sticky: set[str] = set()  # flags set past the start: kept to the end (a superset)
        self.notes: list[str] = []
        self.groups: dict[int, list] = {}
        self.names: dict[str, int] = {}
        self.count = 0
        self.started = False  # something other than flags has been read

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
    def parse(self):
        node = self.alternation()
        if self.i != len(self.p):
            raise UnsupportedSyntax(f"unbalanced parenthesis at {self.i}")
        return node

    def alternation(self, branch_reset: bool = False):
        start_count, top = self.count, self.count
        branches = [self.sequence()]
        while self.take("|"):
            top = max(top, self.count)
            if branch_reset:
                self.count = start_count
            branches.append(self.sequence())
        if branch_reset:
            self.count = max(top, self.count)
        return branches[0] if len(branches) == 1 else ("alt", tuple(branches))

    def sequence(self):
        items = []
        while True:
            self.skip_verbose()
            c = self.peek()
            if c in ("", "|", ")"):
                break
            atom = self.atom()
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

    def atom(self):
        c = self.p[self.i]
        self.i += 1
        if c == "(":
            return self.group()
        self.started = True
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
        return ("set", self.fold(((ord(c), ord(c)),)))

    def group(self):
        if self.take("*"):  # a verb: (*FAIL) matches nothing, the others only cut backtracking
            self.started = True
            verb = self.until(")")
            if verb in ("FAIL", "F"):
                return ("set", ())
            self.notes.append("a backtracking verb")
            return EMPTY
        if not self.take("?"):
            return self.capture(None)
        if self.take("#"):
            self.until(")")
            return NOTHING
        if self.take(":"):
            return self.body()
        if self.take("P<") or (self.peek() == "<" and self.peek(1) not in "=!" and self.take("<")):
            return self.capture(self.until(">"))
        if self.take("P="):
            return self.ref(self.until(")"), "a back-reference")
        if self.take("P>") or self.take("&"):
            return self.ref(self.until(")"), "a subroutine call")
        for head, what in (("=", "a look-around"), ("!", "a look-around"), ("<=", "a look-around"), ("<!", "a look-around")):
            if self.take(head):
                self.started = True
                node = self.body()  # its groups count; automata read it as matching always
                self.notes.append(what)
                return ("look", head, node)
        if self.take(">"):
            self.notes.append("an atomic group")
            return self.body()
        if self.take("|"):
            self.started = True
            node = self.alternation(branch_reset=True)
            if not self.take(")"):
                raise UnsupportedSyntax("unclosed group")
            return node
        if self.take("("):
            return self.conditional()
        m = re.compile(r"R|[+-]?\d+").match(self.p, self.i)
        if m and self.p.startswith(")", m.end()):
            self.i = m.end() + 1
            text = m.group(0)
            target = 0 if text == "R" else int(text)
            if text[0] == "+":
                target = self.count + target
            elif text[0] == "-":
                target = self.count + 1 + target
            return self.ref(target, "a subroutine call")
        return self.flag_group()

    def body(self):
        self.started = True
        saved = set(self.flags)
        node = self.alternation()
        if not self.take(")"):
            raise UnsupportedSyntax("unclosed group")
        self.flags = saved | self.sticky
        return node

    def capture(self, name: str | None):
        if name is not None and not re.fullmatch(r"\w+", name):
            raise UnsupportedSyntax(f"group name {name!r}")
        if name in self.names:  # a repeated name is the same group
            index = self.names[name]
        else:
            self.count += 1
            index = self.count
            if name is not None:
                self.names[name] = index
        node = self.body()
        self.groups.setdefault(index, []).append(node)
        return ("cap", index, node)

    def ref(self, target, what: str):
        self.started = True
        self.notes.append(what)
        return ("ref", int(target) if isinstance(target, str) and target.isdigit() else target)

    def conditional(self):
        self.started = True
        if self.take("?"):  # a look-around condition
            if not any(self.take(h) for h in ("=", "!", "<=", "<!")):
                raise UnsupportedSyntax("conditional")
            self.body()
        else:
            cond = self.until(")")
            if cond == "DEFINE":
                self.body()  # defines groups for calls; matches the empty string
                return EMPTY
        self.notes.append("a conditional group")
        node = self.body()
        return node if node[0] == "alt" else ("alt", (node, EMPTY))

    def flag_group(self):
        on = ""
        while self.peek() in _FLAG_LETTERS and self.peek():
            on += self.p[self.i]
            self.i += 1
        off = ""
        if self.take("-"):
            while self.peek().isalpha():
                off += self.p[self.i]
                self.i += 1
        if "V1" in on or set(on) & set("Lfr") or ("u" in on and not self.unicode):
            raise UnsupportedSyntax(f"inline flags {on!r}")
        if off:
            self.notes.append("an inline flag turned off")  # keeping it on gives a superset
        letters = set(on) & set("imsx")
        if self.take(":"):
            saved = set(self.flags)
            self.flags |= letters
            node = self.alternation()
            if not self.take(")"):
                raise UnsupportedSyntax("unclosed group")
            self.flags = saved | self.sticky
            self.started = True
            return node
        if not self.take(")"):
            raise UnsupportedSyntax(f"group syntax at {self.i}")
        if self.started:
            if "x" in letters:
                raise UnsupportedSyntax("the verbose flag past the start of the pattern")
            self.notes.append("an inline flag past the start of the pattern")
            self.flags |= letters
            self.sticky |= letters
        else:
            self.flags |= letters
        return NOTHING

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
                return ("set", self.fold(((int(three, 8),) * 2,)))
            digits = c
            if self.peek().isdigit():
                digits += self.peek()
                self.i += 1
            return self.ref(int(digits), "a back-reference")
        if c == "g" and self.take("<"):
            return self.ref(self.until(">"), "a back-reference")
        if c in "pPX":
            start = self.i - 2
            self.note_any(c)
            if c == "X":
                return ("rep", ("set", ANY), 1, None)
            return ("set", self.evaluated(self.p[start : self.i]))
        ranges = self.class_escape(c)
        if ranges is not None:
            return ("set", ranges)
        return ("set", self.fold(((self.char_escape(c),) * 2,)))

    def note_any(self, c: str) -> None:
        if c in "pP":
            if self.take("{"):
                self.until("}")
            else:
                self.i += 1
            self.notes.append("a Unicode property")
        else:
            self.notes.append("a grapheme cluster (\\X)")

    def class_escape(self, c: str) -> Ranges | None:
        base = _CLASS_ESCAPES.get(c.lower())
        if base is None or not c.isalpha():
            return None
        return base if c.islower() else tuple(complement_ranges(list(base)))

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
            return int(digits, 16)
        if c == "N" and self.take("{"):
            name = self.until("}")
            try:
                return ord(unicodedata.lookup(name))
            except KeyError:
                raise UnsupportedSyntax(f"character name {name!r}") from None
        if c.isalnum() or c == "_":
            raise UnsupportedSyntax(f"escape \\{c}")
        return ord(c)

    def char_class(self) -> Ranges:
        start = self.i - 1
        negate = self.take("^")
        ranges: list[tuple[int, int]] = []
        approximate = False
        first = True
        while True:
            c = self.peek()
            if not c:
                raise UnsupportedSyntax("unclosed character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if self.p.startswith(("[:", "&&", "--", "||", "~~"), self.i) and not (c == "-" and self.peek(2) == "]"):
                if c == "[":
                    self.i += 2
                    self.until(":]")
                    self.notes.append("a POSIX character class")
                else:
                    self.i += 2
                    self.notes.append("a set operation")
                approximate = True
                continue
            self.i += 1
            if c == "\\":
                kind, value = self.class_member_escape()
                if kind == "property":
                    approximate = True
                    continue
                if kind == "set":
                    ranges.extend(value)
                    continue
                lo = value
            else:
                lo = ord(c)
            hi = lo
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                d = self.p[self.i]
                self.i += 1
                if d == "\\":
                    kind, hi = self.class_member_escape()
                    if kind != "char":
                        raise UnsupportedSyntax("a range ending in a class escape")
                else:
                    hi = ord(d)
                if hi < lo:
                    raise UnsupportedSyntax("bad character range")
            ranges.append((lo, hi))
        if approximate:
            return self.evaluated(self.p[start : self.i])
        folded = self.fold(merge(ranges))
        return tuple(complement_ranges(list(folded))) if negate else folded

    def evaluated(self, text: str) -> Ranges:
        """A class awrs does not read itself (a Unicode property, a POSIX class...): the regex
        module tells which characters below U+0800 it matches; all characters from U+0800 on
        are kept (a superset at the cost of one pass over 2,048 characters)."""
        flags = regex.VERSION0 | (regex.IGNORECASE if "i" in self.flags else 0)
        if self.unicode:
            text = ascii_shorthands(text)
        else:
            flags |= regex.ASCII
        try:
            compiled = regex.compile(text, flags=flags)
        except regex.error:
            return ANY
        matched = [m.start() for m in compiled.finditer(_BELOW_EVALUATED)]
        return merge([(c, c) for c in matched] + [(_EVALUATED_UP_TO, MAX_CODE_POINT)])

    def class_member_escape(self) -> tuple[str, Any]:
        """An escape inside a class, after its backslash: ("char", code point), ("set", ranges)
        or ("property", None) for a Unicode property."""
        e = self.peek()
        if not e:
            raise UnsupportedSyntax("unterminated character set")
        self.i += 1
        if e in "pP":
            self.note_any(e)
            return "property", None
        found = self.class_escape(e)
        if found is not None:
            return "set", found
        return "char", 8 if e == "b" else self.char_escape(e)

    def fold(self, ranges: Ranges) -> Ranges:
        """``ranges`` with their case variants under the ignore-case flag."""
        if "i" not in self.flags:
            return merge(ranges)
        extra: list[tuple[int, int]] = []
        for lo, hi in ranges:
            for lo2, hi2, delta in ((65, 90, 32), (97, 122, -32)):
                a, b = max(lo, lo2), min(hi, hi2)
                if a <= b:
                    extra.append((a + delta, b + delta))
                    if self.unicode:
                        for ch, other in _UNICODE_FOLDS.items():
                            for letter in (ord(ch), ord(ch) - 32):
                                if a <= letter <= b:
                                    extra.append((other, other))
            if hi >= 128 and _has_cased(max(lo, 128), hi):
                self.notes.append("ignore-case with non-ASCII characters")
                return ANY
        return merge(list(ranges) + extra)


def _has_cased(lo: int, hi: int) -> bool:
    if hi - lo > 4096:
        return True
    return any(chr(c).lower() != chr(c) or chr(c).upper() != chr(c) for c in range(lo, hi + 1) if not 0xD800 <= c <= 0xDFFF)


def merge(ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _misplaced_anchors(node) -> bool:
    """Any anchor other than leading ``^``/``\\A`` and trailing ``$``/``\\Z``/``\\z`` of the top
    level (no-ops under fullmatch)."""
    items = list(node[1]) if node[0] == "seq" else [node]
    while items and items[0][0] == "anchor" and items[0][1] in ("^", "\\A"):
        items.pop(0)
    while items and items[-1][0] == "anchor" and items[-1][1] in ("$", "\\Z", "\\z"):
        items.pop()
    return any(_has_anchor(item) for item in items)


def _has_anchor(node) -> bool:
    kind = node[0]
    if kind == "anchor":
        return True
    if kind in ("seq", "alt"):
        return any(_has_anchor(n) for n in node[1])
    if kind == "rep":
        return _has_anchor(node[1])
    if kind == "cap":
        return _has_anchor(node[2])
    return False


_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]", "s": "[ \\t\\n\\r\\f\\v]", "S": "[^ \\t\\n\\r\\f\\v]"}
_INSIDE = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \\t\\n\\r\\f\\v"}


def ascii_shorthands(pattern: str) -> str:
    """\\d, \\w, \\s (and negations outside classes) written out as ASCII classes, for patterns
    compiled without the ASCII flag (which would also make \\p{..} and POSIX classes ASCII)."""
    out, i, in_class, class_start = [], 0, False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(nxt, ch + nxt))
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class, class_start = True, i + 1 + (pattern[i + 1 : i + 2] == "^")
        elif ch == "]" and in_class and i > class_start:  # a "]" first in a class is literal
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)
