from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from awrs.automata.utf8 import code_point_ranges, complement_ranges, utf8_sequences


def matches(seqs, data: bytes) -> bool:
    return any(len(s) == len(data) and all(lo <= b <= hi for b, (lo, hi) in zip(data, s)) for s in seqs)


@given(st.integers(0, 0x10FFFF), st.integers(0, 0x3000), st.characters(blacklist_categories=("Cs",)))
def test_sequences_match_exactly_the_encodings_in_range(lo, width, probe):
    hi = min(lo + width, 0x10FFFF)
    seqs = list(utf8_sequences(lo, hi))
    inside = lo <= ord(probe) <= hi
    assert matches(seqs, probe.encode()) == inside
    for cp in (lo, hi, (lo + hi) // 2):
        if not 0xD800 <= cp <= 0xDFFF:
            assert matches(seqs, chr(cp).encode())


def test_complement_covers_everything_but_the_set_and_surrogates():
    ranges = code_point_ranges("az€😀")
    comp = complement_ranges(ranges)
    covered = sum(hi - lo + 1 for lo, hi in comp) + 4 + (0xDFFF - 0xD800 + 1)
    assert covered == 0x110000
    assert all(not (lo <= 0xD800 <= hi) for lo, hi in comp)
