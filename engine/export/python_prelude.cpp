// The Python that every exported file carries: imports, a safetensors reader and writer that need
// only the standard library and torch (people should not have to install a package to load the
// weights), and the helper modules for node types PyTorch 1.13 lacks. The helpers compute what
// engine/graph/build_norm.cpp and build_attention.cpp compute, operation for operation, so the
// outputs agree to float rounding; change them together.
#include "export/python_layers.h"

namespace kiln::exporting::py {

namespace {

constexpr const char* kImports = R"(import json
import math
import struct

import torch
import torch.nn.functional as F
from torch import nn
)";

constexpr const char* kSafetensors = R"(
_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def load_safetensors(path):
    """Reads a .safetensors file into a {name: tensor} dict (little-endian hosts)."""
    with open(path, "rb") as f:
        data = f.read()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_size])
    body = memoryview(data)[8 + header_size:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        if begin == end:
            tensors[name] = torch.empty(entry["shape"], dtype=dtype)
        else:  # a bytearray copy: torch.frombuffer wants writable memory
            tensors[name] = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype).reshape(entry["shape"])
    return tensors


def save_safetensors(tensors, path, metadata=None):
    """Writes a {name: tensor} dict as .safetensors, which Kiln opens as weights (needs NumPy)."""
    names = {dtype: name for name, dtype in _DTYPES.items()}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        blob = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)
)";

constexpr const char* kRmsNorm = R"(

class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last dimension, as in Llama."""

    def __init__(self, dim, eps=1e-05, elementwise_affine=True):
        super().__init__()
        self.eps = eps
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(dim))
        else:
            self.register_parameter("weight", None)

    def forward(self, x):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return y if self.weight is None else y * self.weight
)";

constexpr const char* kAttention = R"(

def rotate_half(x):
    """(x1, x2) -> (-x2, x1) over the halves of the last dimension."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


class SelfAttention(nn.Module):
    """Multi-head self-attention softmax(QK^T / sqrt(d) + mask) V with q, k, v, o projections.

    rope: rotary position encoding on q and k in the half-split layout (pair (i, i + d/2) of a
    head turns by position * rope_base^(-2i/d)), as Llama in Hugging Face transformers.
    causal: each position sees only itself and earlier ones.
    """

    def __init__(self, dim, heads, rope=True, causal=True, bias=False, rope_base=10000.0):
        super().__init__()
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.rope, self.causal, self.rope_base = rope, causal, rope_base
        self.q = nn.Linear(dim, dim, bias=bias)
        self.k = nn.Linear(dim, dim, bias=bias)
        self.v = nn.Linear(dim, dim, bias=bias)
        self.o = nn.Linear(dim, dim, bias=bias)

    def rope_tables(self, t, like):
        # In float64, then cast, so long sequences keep their angles exact enough.
        f64 = dict(dtype=torch.float64, device=like.device)
        i = torch.arange(0, self.head_dim // 2, **f64)
        inverse = torch.pow(self.rope_base, -2.0 * i / self.head_dim)
        angles = torch.outer(torch.arange(0, t, **f64), inverse)  # [T, d/2]
        both = torch.cat([angles, angles], -1)                     # [T, d]
        return both.cos().to(like.dtype), both.sin().to(like.dtype)

    def forward(self, x):
        b, t, _ = x.shape

        def split_heads(y):  # [B, T, dim] -> [B, heads, T, d]
            return y.reshape(b, t, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split_heads(self.q(x)), split_heads(self.k(x)), split_heads(self.v(x))
        if self.rope:
            cos, sin = self.rope_tables(t, x)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        if self.causal:
            later = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(later, float("-inf"))
        y = torch.matmul(torch.softmax(scores, -1), v)  # [B, heads, T, d]
        return self.o(y.transpose(1, 2).reshape(b, t, self.dim))
)";

}  // namespace

std::string prelude(const std::set<std::string>& helpers)
{
    std::string out = kImports;
    out += kSafetensors;
    if (helpers.count("RMSNorm")) out += kRmsNorm;
    if (helpers.count("SelfAttention")) out += kAttention;
    return out;
}

}  // namespace kiln::exporting::py
