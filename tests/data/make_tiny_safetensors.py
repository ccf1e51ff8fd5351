#!/usr/bin/env python3
"""Writes tests/data/tiny.safetensors with the Python standard library only: an independent
writer (not Kiln's) for the CLI tests. Run from the repository root:
    python3 tests/data/make_tiny_safetensors.py
"""
import json
import struct

tensors = {
    "model.0.weight": ("F32", [4, 3], struct.pack("<12f", *[i / 4 for i in range(12)])),
    "model.0.bias": ("F32", [4], struct.pack("<4f", 0.5, -0.5, 1.5, -1.5)),
    "model.2.weight": ("F16", [2, 4], struct.pack("<8e", *[1, 2, 3, 4, -1, -2, -3, -4])),
    "step": ("I64", [], struct.pack("<q", 1234)),
}
header, data, offset = {"__metadata__": {"made_by": "tests/data/make_tiny_safetensors.py"}}, b"", 0
for name, (dtype, shape, raw) in tensors.items():
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
    data += raw
    offset += len(raw)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open("tests/data/tiny.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
