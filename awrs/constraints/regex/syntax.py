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
rules of its own —, ``\L<..>``) raises :class:`~awrs.constraints.regex.tree.UnsupportedSyntax`.

The reader is in three parts: the tree's shapes (:mod:`~awrs.constraints.regex.tree`), the
character level (escapes and bracketed classes, :mod:`~awrs.constraints.regex.escapes`) and
the group structure (:mod:`~awrs.constraints.regex.parser`). It never recurses on the
pattern's nesting: its recursive descent runs on an explicit stack
(:func:`~awrs.constraints.regex.tree.run_nested`), so a pattern nested 100,000 groups deep is
read in linear time. The ``regex`` module's own compiler does recurse; :func:`nesting_depth` lets
callers refuse such patterns before they reach it.

Semantics are those of :class:`awrs.Regex`: ``fullmatch``; in Unicode mode (the default)
``\d \w \s`` are the regex module's Unicode classes; in ASCII mode they are ASCII classes,
ignore-case pairs ASCII letters only, and ``\p{..}`` keeps its Unicode meaning
(``Parsed.spelled`` gives where, so that the pattern handed to the regex module can spell it
out); ``.`` matches no newline unless ``(?s)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import regex

from awrs.constraints.regex.classes import Ranges
from awrs.constraints.regex.escapes import POSIX_CLASS
from awrs.constraints.regex.parser import Parser
from awrs.constraints.regex.tree import UnsupportedSyntax, run_nested

__all__ = ["MAX_NESTING", "Parsed", "nesting_depth", "parse", "parses_exactly"]

#: Groups nested deeper than this are refused (:func:`nesting_depth`): the regex module's
#: compiler recurses about twice per level and fails near 450 levels under Python's default
#: recursion limit of 1,000; 100 leaves room for the caller's own stack. Real patterns
#: rarely nest past 10.
MAX_NESTING = 100


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
    parser = Parser(pattern, unicode, set(flags))
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
        elif (m := POSIX_CLASS.match(pattern, j)) is not None:
            j = m.end()
        else:
            j += 1
    return len(pattern)


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
