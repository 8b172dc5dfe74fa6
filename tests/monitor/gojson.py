"""JSON as nats-server's monitoring endpoints write it (Go encoding/json).

parse() keeps what a byte-level comparison needs and Python's json module
drops: the order of object keys (an Object is a list of (key, value) pairs)
and the exact text of every number (Int and Float keep .raw).

marshal() writes a parsed tree back the way Go does: json.MarshalIndent(v,
"", "  ") for indent=True, json.Marshal(v) for indent=False.  A document is
"Go-formatted" when marshal(parse(text)) == text; the reference's documents
are checked against this too, so this emulation is itself verified on every
run (see monitor_diff.check_form).
"""

import decimal
import json


class Object(list):
    """A JSON object as an ordered list of (key, value) pairs."""

    def keys(self):
        return [k for k, _ in self]

    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default

    def has(self, key):
        return any(k == key for k, _ in self)


class Int(int):
    """An integer token; .raw is its text."""
    raw = None


class Float(float):
    """A number token with a fraction or exponent; .raw is its text."""
    raw = None


def _int(text):
    v = Int(text)
    v.raw = text
    return v


def _float(text):
    v = Float(text)
    v.raw = text
    return v


def parse(text):
    """Parse JSON text keeping key order and number tokens.  Raises
    ValueError on invalid JSON or on trailing bytes."""
    return json.loads(text, object_pairs_hook=Object, parse_int=_int,
                      parse_float=_float, parse_constant=_reject_constant)


def _reject_constant(name):
    raise ValueError("not JSON: %s" % name)


def go_float(value):
    """How Go's encoding/json writes a float64 (strconv 'f' format with the
    shortest exact digits, 'e' format below 1e-6 and from 1e21 on)."""
    if value == 0:
        return "0" if str(value)[0] != "-" else "-0"
    a = abs(value)
    if a < 1e-6 or a >= 1e21:
        s = repr(value)
        mant, _, exp = s.partition("e")
        if mant.endswith(".0"):
            mant = mant[:-2]
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0")
        if len(digits) < 2:
            digits = digits.rjust(2, "0")
        return "%se%s%s" % (mant, sign, digits)
    s = format(decimal.Decimal(repr(value)), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def go_quote(s):
    """A string as Go's encoding/json writes it (HTML-safe escaping)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def marshal(value, indent=True, _level=0):
    """Go's json.MarshalIndent(v, "", "  ") (indent) or json.Marshal(v)."""
    nl = "\n" + "  " * (_level + 1) if indent else ""
    end = "\n" + "  " * _level if indent else ""
    colon = ": " if indent else ":"
    if isinstance(value, Object):
        if not value:
            return "{}"
        parts = [go_quote(k) + colon + marshal(v, indent, _level + 1) for k, v in value]
        return "{" + nl + ("," + nl).join(parts) + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        parts = [marshal(v, indent, _level + 1) for v in value]
        return "[" + nl + ("," + nl).join(parts) + end + "]"
    if isinstance(value, str):
        return go_quote(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, Int):
        return value.raw
    if isinstance(value, Float):
        # Go never writes a float as "1.0" or "1E5": the raw token must be
        # what Go would write for that value.
        return go_float(float(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    raise TypeError("cannot marshal %r" % (value,))


def type_name(value):
    """The JSON type of a parsed value, numbers split into int and float
    tokens (Go writes an integral float64 as "2", so a float field may show
    either; callers compare numbers loosely where that matters)."""
    if isinstance(value, Object):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    if isinstance(value, Float):
        return "float"
    if isinstance(value, int):
        return "int"
    return "number"


def to_plain(value):
    """A parsed tree as ordinary dicts/lists (for printing and sorting)."""
    if isinstance(value, Object):
        return {k: to_plain(v) for k, v in value}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
