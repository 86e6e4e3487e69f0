"""``format`` values as regular languages (byte DFAs over the decoded string).

Each supported format is a regular expression written from its RFC and checked against the
official JSON-Schema-Test-Suite (``optional/format``); ``hostname`` also bounds the length.
Formats the JSON Schema specification defines but awrs does not enforce are listed in
:data:`UNSUPPORTED`; format names the specification does not define (vendor names such as
OpenAPI's ``int32``) are annotations.

A leap second (``:60``) is valid only at 23:59 UTC; the DFA accepts ``:60`` at any time and
:data:`FINAL_CHECKS` applies the exact rule when the string closes (the prefix check
over-approximates only there). Known simplifications (docs/json-schema.md): ``email``
follows RFC 5321 without comments or folding whitespace; ``uri`` follows RFC 3986 with
ASCII characters only; ``hostname`` does not decode Punycode (``xn--``) labels.
"""

from __future__ import annotations

from functools import cache

from awrs.automata.dfa import ByteDFA

__all__ = ["FINAL_CHECKS", "FORMATS", "UNSUPPORTED", "format_dfa", "format_max_length"]

_YEAR = r"[0-9]{4}"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_DATE = (
    r"(?:" + _YEAR + r"-(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|" + _YEAR + r"-(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|" + _YEAR + r"-02-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|" + _LEAP_YEAR + r"-02-29)"
)
_OFFSET = r"(?:[zZ]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?" + _OFFSET
_DUR_TIME = r"T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
_DURATION = (
    r"P(?:(?:[0-9]+D|[0-9]+M(?:[0-9]+D)?|[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?)(?:" + _DUR_TIME + r")?"
    r"|" + _DUR_TIME + r"|[0-9]+W)"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = _OCTET + r"(?:\." + _OCTET + r"){3}"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = r"(?:" + _H16 + r":" + _H16 + r"|" + _IPV4 + r")"
_IPV6 = (
    r"(?:(?:"
    + _H16
    + r":){6}"
    + _LS32
    + r"|::(?:"
    + _H16
    + r":){5}"
    + _LS32
    + r"|(?:"
    + _H16
    + r")?::(?:"
    + _H16
    + r":){4}"
    + _LS32
    + r"|(?:(?:"
    + _H16
    + r":){0,1}"
    + _H16
    + r")?::(?:"
    + _H16
    + r":){3}"
    + _LS32
    + r"|(?:(?:"
    + _H16
    + r":){0,2}"
    + _H16
    + r")?::(?:"
    + _H16
    + r":){2}"
    + _LS32
    + r"|(?:(?:"
    + _H16
    + r":){0,3}"
    + _H16
    + r")?::"
    + _H16
    + r":"
    + _LS32
    + r"|(?:(?:"
    + _H16
    + r":){0,4}"
    + _H16
    + r")?::"
    + _LS32
    + r"|(?:(?:"
    + _H16
    + r":){0,5}"
    + _H16
    + r")?::"
    + _H16
    + r"|(?:(?:"
    + _H16
    + r":){0,6}"
    + _H16
    + r")?::)"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = _LABEL + r"(?:\." + _LABEL + r")*"
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL = (
    r"(?:" + _ATEXT + r"+(?:\." + _ATEXT + r"+)*|\"(?:[^\"\\\x00-\x1f]|\\[\x20-\x7e])*\")"
    r"@(?:" + _HOSTNAME + r"|\[" + _IPV4 + r"\]|\[IPv6:" + _IPV6 + r"\])"
)
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = r"(?:[" + _UNRESERVED + _SUB_DELIMS + r":@]|" + _PCT + r")"
_REG_NAME = r"(?:[" + _UNRESERVED + _SUB_DELIMS + r"]|" + _PCT + r")*"
_IP_LITERAL = r"\[(?:" + _IPV6 + r"|[vV][0-9A-Fa-f]+\.[" + _UNRESERVED + _SUB_DELIMS + r":]+)\]"
_AUTHORITY = (
    r"(?:(?:[" + _UNRESERVED + _SUB_DELIMS + r":]|" + _PCT + r")*@)?"
    r"(?:" + _IP_LITERAL + r"|" + _REG_NAME + r")(?::[0-9]*)?"
)
_PATH_ABEMPTY = r"(?:/" + _PCHAR + r"*)*"
_HIER = (
    r"(?://"
    + _AUTHORITY
    + _PATH_ABEMPTY
    + r"|/(?:"
    + _PCHAR
    + r"+(?:/"
    + _PCHAR
    + r"*)*)?"
    + r"|"
    + _PCHAR
    + r"+(?:/"
    + _PCHAR
    + r"*)*"
    + r")?"
)
_QUERY = r"(?:[/?]|" + _PCHAR + r")*"
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"
_URI = _SCHEME + r":" + _HIER + r"(?:\?" + _QUERY + r")?(?:#" + _QUERY + r")?"
_SEGMENT_NZ_NC = r"(?:[" + _UNRESERVED + _SUB_DELIMS + r"@]|" + _PCT + r")+"
_RELATIVE_REF = (
    r"(?://"
    + _AUTHORITY
    + _PATH_ABEMPTY
    + r"|/(?:"
    + _PCHAR
    + r"+(?:/"
    + _PCHAR
    + r"*)*)?"
    + r"|"
    + _SEGMENT_NZ_NC
    + r"(?:/"
    + _PCHAR
    + r"*)*"
    + r")?(?:\?"
    + _QUERY
    + r")?(?:#"
    + _QUERY
    + r")?"
)
_JSON_POINTER = r"(?:/(?:[^/~]|~[01])*)*"

#: format name -> regular expression over the decoded string (fully matched).
FORMATS: dict[str, str] = {
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE + r"[Tt]" + _TIME,
    "duration": _DURATION,
    "email": _EMAIL,
    "hostname": _HOSTNAME,
    "ipv4": _IPV4,
    "ipv6": _IPV6,
    "uri": _URI,
    "uri-reference": r"(?:" + _URI + r"|" + _RELATIVE_REF + r")",
    "uuid": r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    "json-pointer": _JSON_POINTER,
    "relative-json-pointer": r"(?:0|[1-9][0-9]*)(?:#|" + _JSON_POINTER + r")",
}


def _leap_second_ok(text: str) -> bool:
    """A time (or date-time) with second 60 must fall at 23:59 UTC (RFC 3339 section 5.7)."""
    time = text.rsplit("T", 1)[-1].rsplit("t", 1)[-1]
    if time[6:8] != "60":
        return True
    minutes = int(time[0:2]) * 60 + int(time[3:5])
    offset = time.lstrip("0123456789:.")
    if offset[0] in "+-":
        shift = int(offset[1:3]) * 60 + int(offset[4:6])
        minutes -= shift if offset[0] == "+" else -shift
    return minutes % 1440 == 23 * 60 + 59


#: format name -> exact check applied to the whole string when it closes.
FINAL_CHECKS = {"time": _leap_second_ok, "date-time": _leap_second_ok}

#: Lengths the regular expressions do not express (RFC 1123: at most 253 characters).
_MAX_LENGTH = {"hostname": 253}

#: Formats the JSON Schema specification defines that awrs does not enforce.
UNSUPPORTED = frozenset({"iri", "iri-reference", "idn-email", "idn-hostname", "uri-template", "regex", "color"})


@cache
def format_dfa(name: str) -> ByteDFA:
    """The byte DFA of a supported format (compiled once per process)."""
    from awrs.constraints.regex import Regex

    dfa = Regex(FORMATS[name], engine="dfa").dfa
    assert dfa is not None
    return dfa


def format_max_length(name: str) -> int | None:
    return _MAX_LENGTH.get(name)
