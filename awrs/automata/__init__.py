"""Byte automata: the machinery under the regex, grammar-lexer and JSON-string checkers.

- :mod:`awrs.automata.utf8`: character sets as UTF-8 byte-range sequences;
- :mod:`awrs.automata.char_dfa`: a character automaton determinised and minimised over code
  points, then expanded to a byte table;
- :mod:`awrs.automata.dfa`: :class:`~awrs.automata.dfa.ByteDFA` (live states only, so a walk
  that stays on the table is exactly a viable prefix), products, differences, tries, and tagged
  DFAs for lexers;
- :mod:`awrs.automata._kernels`: the Numba kernels that walk a table over a whole vocabulary.

Nothing here knows about constraints or models; :mod:`awrs.constraints` builds on it.
"""
