"""The group structure of a pattern: alternations, sequences, quantifiers, groups and inline
flags, read by recursive descent on an explicit stack (every method that descends is a
generator run by :func:`~awrs.constraints.regex.tree.run_nested`).
"""

from __future__ import annotations

import re

from awrs.constraints.regex.classes import ANY
from awrs.constraints.regex.escapes import NOT_NEWLINE, CharReader
from awrs.constraints.regex.tree import EMPTY, NO_ATOM, Nested, UnsupportedSyntax

__all__ = ["Parser"]

_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_FUZZY = re.compile(r"\{[^}]*[<=>]")
_GROUP_NUMBER = re.compile(r"R|[+-]?\d+")
_FLAG_LETTERS = set("aimsxuLfwbeVr0123456789p")
#: Characters that begin something other than a plain literal character.
_SPECIAL = frozenset("\\[](){}.*+?|^$")
#: Flags that change the language in ways the reader does not model.
_UNMODELLED_FLAGS = set("Lfwr")
_LOOK_HEADS = ("=", "!", "<=", "<!")


class Parser(CharReader):
    """Recursive descent over the pattern's groups, on the characters :class:`CharReader` reads.
    ``groups`` maps each group's index to the trees of the groups with that index, ``names``
    group names to indices; ``count`` is the last index given."""

    def __init__(self, pattern: str, unicode: bool, flags: set[str]):
        super().__init__(pattern, unicode, flags)
        self.groups: dict[int, list] = {}
        self.names: dict[str, int] = {}
        self.count = 0

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
            if atom is not EMPTY and atom is not NO_ATOM:
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
        if atom is NO_ATOM:
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
        """A group, after its ``(``."""
        if self.take("*"):
            return self.verb()
        if not self.take("?"):
            return (yield self.capture(None))
        return (yield self.extension())

    def verb(self) -> tuple:
        """``(*VERB)``: ``(*FAIL)`` matches nothing, the others only cut backtracking."""
        verb = self.until(")")
        if verb in ("FAIL", "F"):
            return ("set", ())
        self.notes.append("a backtracking verb")
        return EMPTY

    def extension(self) -> Nested:
        """A group after its ``(?`` (the kinds begin with distinct text, so their order is free)."""
        if self.take("#"):
            self.until(")")
            return NO_ATOM
        if self.take(":"):
            return (yield self.body())
        name = self.group_name()
        if name is not None:
            return (yield self.capture(name))
        reference = self.reference()
        if reference is not None:
            return reference
        for head in _LOOK_HEADS:
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
        return (yield self.flag_group())

    def group_name(self) -> str | None:
        """The name of a named group, ``(?P<name>`` or ``(?<name>`` (not ``(?<=``, ``(?<!``)."""
        if self.take("P<") or (self.peek() == "<" and self.peek(1) not in "=!" and self.take("<")):
            return self.until(">")
        return None

    def reference(self) -> tuple | None:
        """A back-reference or subroutine call group, ``(?P=name)``, ``(?P>name)``, ``(?&name)``,
        ``(?R)``, ``(?1)``, ``(?-1)``, ``(?+1)``; None (nothing read) for any other group."""
        if self.take("P="):
            return self.ref(self.until(")"), "a back-reference")
        if self.take("P>") or self.take("&"):
            return self.ref(self.until(")"), "a subroutine call")
        m = _GROUP_NUMBER.match(self.p, self.i)
        if not (m and self.p.startswith(")", m.end())):
            return None
        self.i = m.end() + 1
        text = m.group(0)
        target = 0 if text == "R" else int(text)
        if text[0] == "+":
            target = self.count + target
        elif text[0] == "-":
            target = self.count + 1 + target
        return self.ref(target, "a subroutine call")

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
        return NO_ATOM
