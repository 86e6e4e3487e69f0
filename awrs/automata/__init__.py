"""Byte automata: the machinery under the regex, grammar-lexer and JSON-string checkers.

- :mod:`awrs.automata.utf8`: character sets as UTF-8 byte-range sequences;
- :mod:`awrs.automata.char_dfa`: a character automaton determinised and minimised over code
  points, then expanded to a byte table;
- :mod:`awrs.automata.dfa`: :class:`~awrs.automata.dfa.ByteDFA` (live states only, so a walk
  that stays on the table is exactly a viable prefix) and its construction;
- :mod:`awrs.automata.minimise`: live states and Moore minimisation of byte tables;
- :mod:`awrs.automata.product`: intersections and differences of byte DFAs;
- :mod:`awrs.automata.trie`: the minimal DFA of a finite set of strings;
- :mod:`awrs.automata.nfa`: byte NFAs and the byte classes subset construction works with;
- :mod:`awrs.automata.tagged_dfa`: the lexer's lazily determinised DFA over many automata;
- :mod:`awrs.automata._kernels`: the Numba kernels that walk a table over a whole vocabulary.

Nothing here knows about constraints or models; :mod:`awrs.constraints` builds on it.
"""
