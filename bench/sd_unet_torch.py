# The PyTorch peer of bench_sd: the SD 1.5 UNet in plain PyTorch (Debian's python3-torch 1.13, no diffusers,
# no safetensors package), computed as diffusers computes it by default on CPU: NCHW float32, GroupNorm,
# attention as baddbmm(alpha=scale) + softmax + bmm over all tokens at once (diffusers' AttnProcessor, no
# slicing), exact-GELU GEGLU. The modules carry the LDM (CompVis) names, so the single file's
# model.diffusion_model.* tensors load by name.
#
# Usage: /usr/bin/python3 sd_unet_torch.py --model FILE.safetensors [--io IO.safetensors] [--threads N] [--steps N]
# With --io (written by bench_sd: latent, timesteps, context, output), runs on that input and compares with
# Kiln's output. Prints one line: RESULT load=.. first=.. step=.. best=.. cpu=.. maxrss_mb=.. maxrel=.. rmsrel=.. maxabs=..
import argparse
import json
import math
import mmap
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path, prefix=""):
    """The tensors whose names start with prefix (prefix removed), as float32 copies (ints kept)."""
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__" or not name.startswith(prefix):
            continue
        dtype = DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        count = (end - begin) // torch.tensor([], dtype=dtype).element_size()
        t = torch.frombuffer(mm, dtype=dtype, count=count, offset=base + begin).reshape(e["shape"])
        out[name[len(prefix):]] = t.float() if t.is_floating_point() else t.clone()
    del mm
    return out


def norm(ch, eps=1e-5):
    return nn.GroupNorm(32, ch, eps=eps)


class ResBlock(nn.Module):
    def __init__(self, ch, out, emb=1280):
        super().__init__()
        self.in_layers = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, out, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, out))
        self.out_layers = nn.Sequential(norm(out), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(out, out, 3, padding=1))
        self.skip_connection = nn.Identity() if ch == out else nn.Conv2d(ch, out, 1)

    def forward(self, x, emb, context):
        h = self.in_layers(x)
        h = h + self.emb_layers(emb)[:, :, None, None]
        h = self.out_layers(h)
        return self.skip_connection(x) + h


class CrossAttention(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.0))

    def head_to_batch_dim(self, t):
        b, n, c = t.shape
        return t.reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3).reshape(b * self.heads, n, c // self.heads)

    def batch_to_head_dim(self, t):
        bh, n, d = t.shape
        return t.reshape(bh // self.heads, self.heads, n, d).permute(0, 2, 1, 3).reshape(bh // self.heads, n, self.heads * d)

    def forward(self, x, context=None):
        context = x if context is None else context
        q = self.head_to_batch_dim(self.to_q(x))
        k = self.head_to_batch_dim(self.to_k(context))
        v = self.head_to_batch_dim(self.to_v(context))
        # diffusers' Attention.get_attention_scores + AttnProcessor
        empty = torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype)
        scores = torch.baddbmm(empty, q, k.transpose(-1, -2), beta=0, alpha=self.scale)
        probs = scores.softmax(dim=-1)
        del scores
        out = torch.bmm(probs, v)
        return self.to_out(self.batch_to_head_dim(out))


class GEGLU(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim))

    def forward(self, x):
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, context_dim):
        super().__init__()
        self.attn1 = CrossAttention(dim, dim, heads)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    def __init__(self, ch, heads=8, context_dim=768):
        super().__init__()
        self.norm = norm(ch, eps=1e-6)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(ch, heads, context_dim)])
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x, emb, context):
        b, c, h, w = x.shape
        residual = x
        x = self.proj_in(self.norm(x))
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, c)
        for block in self.transformer_blocks:
            x = block(x, context)
        x = x.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous()
        return self.proj_out(x) + residual


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x, emb, context):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, emb, context):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Conv(nn.Conv2d):
    def forward(self, x, emb, context):
        return super().forward(x)


class Block(nn.ModuleList):
    def forward(self, x, emb, context):
        for layer in self:
            x = layer(x, emb, context)
        return x


def timestep_embedding(t, dim):
    # diffusers' get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0)
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    return torch.cat([emb[:, half:], emb[:, :half]], dim=-1)


class UNet(nn.Module):
    """The LDM UNetModel with SD 1.5's settings (model_channels 320, mults 1,2,4,4, 2 res blocks, attention at
    the first three levels, 8 heads, context 768)."""

    def __init__(self, ch=320, mults=(1, 2, 4, 4), layers=2):
        super().__init__()
        self.model_channels = ch
        self.time_embed = nn.Sequential(nn.Linear(ch, ch * 4), nn.SiLU(), nn.Linear(ch * 4, ch * 4))
        self.input_blocks = nn.ModuleList([Block([Conv(4, ch, 3, padding=1)])])
        chans = [ch]
        c = ch
        for level, mult in enumerate(mults):
            for _ in range(layers):
                mods = [ResBlock(c, ch * mult)]
                c = ch * mult
                if level < len(mults) - 1:
                    mods.append(SpatialTransformer(c))
                self.input_blocks.append(Block(mods))
                chans.append(c)
            if level != len(mults) - 1:
                self.input_blocks.append(Block([Downsample(c)]))
                chans.append(c)
        self.middle_block = Block([ResBlock(c, c), SpatialTransformer(c), ResBlock(c, c)])
        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(mults))):
            for i in range(layers + 1):
                mods = [ResBlock(c + chans.pop(), ch * mult)]
                c = ch * mult
                if level < len(mults) - 1:
                    mods.append(SpatialTransformer(c))
                if level and i == layers:
                    mods.append(Upsample(c))
                self.output_blocks.append(Block(mods))
        self.out = nn.Sequential(norm(c), nn.SiLU(), nn.Conv2d(c, 4, 3, padding=1))

    def forward(self, x, t, context):
        emb = self.time_embed(timestep_embedding(t, self.model_channels))
        hs = []
        h = x
        for block in self.input_blocks:
            h = block(h, emb, context)
            hs.append(h)
        h = self.middle_block(h, emb, context)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb, context)
        return self.out(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--io")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    sd = read_safetensors(args.model, "model.diffusion_model.")
    unet = UNet()
    missing, unexpected = unet.load_state_dict(sd, strict=False)
    del sd
    if missing or unexpected:
        print("  PyTorch: missing %d %s, unexpected %d %s" % (len(missing), missing[:3], len(unexpected), unexpected[:3]),
              file=sys.stderr)
        sys.exit(1)
    unet.eval()
    load = time.perf_counter() - t0
    print("  PyTorch: loaded in %.2f s" % load, flush=True)

    if args.io:
        io = read_safetensors(args.io)
        latent, t, context, ref = io["latent"], io["timesteps"], io["context"], io["output"]
    else:
        g = torch.Generator().manual_seed(42)
        latent = torch.randn(2, 4, 64, 64, generator=g)
        t = torch.full((2,), 999.0)
        context = torch.randn(2, 77, 768, generator=g)
        ref = None

    with torch.no_grad():  # as diffusers' pipeline __call__
        t0 = time.perf_counter()
        out = unet(latent, t, context)
        first = time.perf_counter() - t0
        print("  PyTorch: warm-up step %.2f s" % first, flush=True)
        steps, cpu = [], []
        for _ in range(args.steps):
            t0, c0 = time.perf_counter(), time.process_time()  # process_time: CPU of every thread
            unet(latent, t, context)
            steps.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            print("  PyTorch: step %.2f s (CPU %.2f s)" % (steps[-1], cpu[-1]), flush=True)

    maxrel = rmsrel = maxabs = float("nan")
    if ref is not None:
        d = (ref - out).abs()
        maxabs = d.max().item()
        maxrel = maxabs / out.abs().max().item()
        rmsrel = (d.pow(2).mean().sqrt() / out.pow(2).mean().sqrt()).item()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT load=%.3f first=%.3f step=%.3f best=%.3f cpu=%.3f maxrss_mb=%.0f maxrel=%.3e rmsrel=%.3e maxabs=%.3e"
          % (load, first, sum(steps) / max(1, len(steps)), min(steps) if steps else float("nan"),
             sum(cpu) / max(1, len(cpu)), rss, maxrel, rmsrel, maxabs), flush=True)


if __name__ == "__main__":
    main()
