"""Rows as canonical JSON: the ledger's fast encoder gives byte for byte what the `rfc8785`
package (the RFC 8785 reference for Python) gives, so anyone can recompute a row's hash."""

import datetime
import random
import struct

import rfc8785

from registry.ledger.rows import canonical, json_value


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-(10**15), 10**15)
    if kind == 2:
        return struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]  # any double, inf and nan included
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.0, 1e21, 1e20, 1e-7, 1e-6, 5e-324, rng.random() * 10 ** rng.randrange(-30, 30)])
    if kind == 4:  # controls, quotes, backslashes, accents, astral characters
        pools = [(0, 0x80), (0x80, 0xD800), (0xE000, 0x110000)]
        return "".join(chr(rng.randrange(*rng.choice(pools))) for _ in range(rng.randrange(10)))
    if kind == 5:
        return datetime.datetime(2026, 1, rng.randrange(1, 28), 12, 0, 0, rng.randrange(10**6))
    if kind in (6, 7):  # keys that sort differently by UTF-16 code units and by code points
        keys = [
            "".join(chr(rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0xE000, 0x110000)])) for _ in range(3))
        ]
        keys += [rng.choice(["id", "value", "run_id", "é", "\U0001f600", "\uffff"]) for _ in range(rng.randrange(4))]
        return {key: random_value(rng, depth + 1) for key in keys}
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_the_fast_encoder_agrees_with_rfc8785():
    rng = random.Random(8785)
    for _ in range(8_000):
        value = random_value(rng)
        assert canonical(value) == rfc8785.dumps(json_value(value)), repr(value)


def test_what_json_cannot_say_is_written_as_text():
    stamp = datetime.datetime(2026, 11, 26, 21, 5, 7, 123)
    assert canonical({"b": float("inf"), "a": stamp, "c": b"\x01"}) == (
        b'{"a":"2026-11-26T21:05:07.000123Z","b":"inf","c":"01"}'
    )
