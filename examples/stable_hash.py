#!/usr/bin/env python3
"""Reference implementation of the sk-tracer stable hash, for simulators not written in Rust.

XXH64 (seed 0) over a canonical encoding of a JSON value; see docs/formats.md, "The stable hash".
Usage: stable_hash.py '<json>'   prints the hash as an unsigned decimal integer.
Needs the `xxhash` package (pip install xxhash).
"""
import json
import struct
import sys

import xxhash


def canonical(value, out):
    if value is None:
        out += b"\x00"
    elif value is False:
        out += b"\x01"
    elif value is True:
        out += b"\x02"
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            out += b"\x03" + struct.pack(">q", value)
        else:
            out += b"\x04" + struct.pack(">Q", value)
    elif isinstance(value, float):
        out += b"\x05" + struct.pack(">d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out += b"\x06" + struct.pack(">Q", len(data)) + data
    elif isinstance(value, list):
        out += b"\x07" + struct.pack(">Q", len(value))
        for item in value:
            canonical(item, out)
    elif isinstance(value, dict):
        out += b"\x08" + struct.pack(">Q", len(value))
        for key in sorted(value, key=lambda k: k.encode("utf-8")):
            data = key.encode("utf-8")
            out += struct.pack(">Q", len(data)) + data
            canonical(value[key], out)
    else:
        raise TypeError(f"not a JSON value: {value!r}")
    return out


def stable_hash(value):
    return xxhash.xxh64_intdigest(bytes(canonical(value, bytearray())), seed=0)


if __name__ == "__main__":
    print(stable_hash(json.loads(sys.argv[1])))
