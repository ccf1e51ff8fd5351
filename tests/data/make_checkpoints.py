#!/usr/bin/python3
# Writes the PyTorch checkpoint fixtures in tests/data/checkpoints/ and expected.json, the
# independent answer the C++ tests compare against.
#
# Regenerate (needs Debian's python3-torch, which only /usr/bin/python3 sees):
#     /usr/bin/python3 tests/data/make_checkpoints.py
# and commit the changed files. Output is deterministic: fixed seeds, fixed zip timestamps.
#
# Hostile fixtures are written here without being loaded: never torch.load the evil_*
# files (evil_system*.pt would run `touch /tmp/kiln_checkpoint_pwned`).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import collections
import io
import json
import os
import pickle
import pickletools
import random
import struct
import sys
import tarfile
import types
import zipfile
import zlib

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")
MARKER = "/tmp/kiln_checkpoint_pwned"
expected = {}


def path(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    assert len(data) < 50 * 1024, f"{name} is {len(data)} bytes; fixtures must stay under 50 KB"


def saved(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    data = buf.getvalue()
    return data if kw.get("_use_new_zipfile_serialization", True) else stable_legacy_keys(data)


def stable_legacy_keys(data):
    """Legacy files name storages by memory address; renumber them (same length, same
    order) so that the fixtures do not change on every run."""
    f = io.BytesIO(data)
    for _ in range(4):  # magic, protocol, sys_info, main: stepped over, never loaded
        for _op in pickletools.genops(f):
            pass
    keys = pickle.load(f)  # a plain list of strings
    for i, key in enumerate(sorted(keys)):
        data = data.replace(key.encode(), str(i + 1).zfill(len(key)).encode())
    return data


# --- what the reader should find --------------------------------------------------------

DTYPE = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
         torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
         torch.bool: "BOOL"}


def tensor_record(t):
    return {"dtype": DTYPE[t.dtype], "shape": list(t.shape),
            "values": [float(v) for v in t.detach().contiguous().reshape(-1).tolist()]}


def collect_tensors(obj, name="", out=None, seen=None):
    """Tensors by the reader's naming rule: dict keys and list indices joined by dots."""
    out = {} if out is None else out
    seen = set() if seen is None else seen
    if isinstance(obj, torch.Tensor):
        out[name or "(root)"] = tensor_record(obj)
        return out
    if id(obj) in seen:
        return out
    seen.add(id(obj))
    join = lambda k: f"{name}.{k}" if name else str(k)
    if isinstance(obj, dict):
        for k, v in obj.items():
            collect_tensors(v, join(k), out, seen)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            collect_tensors(v, join(i), out, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        for k, v in vars(obj).items():
            collect_tensors(v, join(k), out, seen)
    return out


def expect(name, obj, fmt="PyTorch zip checkpoint", entries=None):
    expected[name] = {"format": fmt, "tensors": collect_tensors(obj), "entries": entries or {}}


def expect_error(name, *needles, marker=False):
    expected[name] = {"error": list(needles)}
    if marker:
        expected[name]["marker"] = MARKER


# --- hand-built archives and pickles ----------------------------------------------------

def zip_of(members, prefix="archive", method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members:
            info = zipfile.ZipInfo(f"{prefix}/{name}" if prefix else name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, data)
    return buf.getvalue()


def zip64_of(members, prefix="archive"):
    """A zip whose central directory keeps every size and offset in zip64 extra fields."""
    out, central = bytearray(), bytearray()
    for name, data in members:
        nb = f"{prefix}/{name}".encode()
        off, crc = len(out), zlib.crc32(data)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(nb), len(local_extra)) + nb + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + extra
    cd_offset, n = len(out), len(members)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(out)


class FakeStorage:
    """Stands for a storage record: pickled as torch.save's persistent id."""
    def __init__(self, storage_type, key, numel):
        self.storage_type, self.key, self.numel = storage_type, key, numel


class FakeTensor:
    """Pickles as torch's tensor rebuild call with whatever view numbers we choose."""
    def __init__(self, storage, offset, size, stride, fn=torch._utils._rebuild_tensor_v2, extra=()):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict()) + tuple(extra)
        self.fn = fn

    def __reduce__(self):
        return (self.fn, self.args)


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def torch_like_pickle(obj, protocol=2):
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def op_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def op_unicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def op_stack_global(module, name):
    return b"\x8c" + bytes([len(module)]) + module.encode() + b"\x8c" + bytes([len(name)]) + name.encode() + b"\x93"


# --- fixtures ----------------------------------------------------------------------------

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(8, 3)
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 2, bias=False)])


class TrainingStats:
    """A user's own class, pickled as __main__.TrainingStats like in a training script."""
    def __init__(self):
        self.best_loss = 0.25
        self.history = [1.0, 0.5, 0.25]
        self.ema_weight = torch.tensor([0.5, -1.5])


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def fake_module(name):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    return mod


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(path(f))
    torch.manual_seed(0)
    random.seed(0)

    # An OrderedDict state_dict saved straight to a path (archive prefix "state_dict").
    model = Tiny()
    model.bn.running_mean.copy_(torch.tensor([0.1, -0.2]))
    sd = model.state_dict()
    torch.save(sd, path("state_dict.pt"))
    expect("state_dict.pt", sd, entries={})

    one = {"weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    write("one_item.pt", saved(one))
    expect("one_item.pt", one)

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"base": base, "transposed": base.t(), "row": base[2], "column": base[:, 3],
             "offset": base.view(-1)[5:17].view(3, 4), "block": base[1:3, 2:5], "every_other": base[::2, ::3],
             "scalar": base[3, 5]}
    write("shared_views.pt", saved(views))
    expect("shared_views.pt", views)

    dtypes = {
        "f32": torch.tensor([1.5, -2.25, 3.0e-3, 1e20]),
        "f64": torch.tensor([1.0 / 3.0, -1e-300, 2.5], dtype=torch.float64),
        "f16": torch.tensor([0.5, -65504.0, 0.099975586, 6.1e-5], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.140625, 1e30, 0.0078125], dtype=torch.bfloat16),
        "i64": torch.tensor([0, -1, 2**40, -(2**50)], dtype=torch.int64),
        "i32": torch.tensor([[7, -8], [2**31 - 1, -(2**31)]], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767, 5], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }
    write("dtypes.pt", saved(dtypes))
    expect("dtypes.pt", dtypes)

    # A Lightning-style .ckpt with framework objects beside the weights.
    pl = fake_module("pytorch_lightning")
    plc = fake_module("pytorch_lightning.callbacks")
    pl.callbacks = plc

    class ModelCheckpoint:
        pass
    ModelCheckpoint.__module__, ModelCheckpoint.__qualname__ = "pytorch_lightning.callbacks", "ModelCheckpoint"
    plc.ModelCheckpoint = ModelCheckpoint
    mc = ModelCheckpoint()
    mc.monitor, mc.save_top_k, mc.best_model_path = "val_loss", 2, "/runs/epoch=3.ckpt"

    net = Tiny()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        net.fc(net.layers[0].weight.sum() * torch.ones(1, 8)).sum().backward()
        opt.step()
    stats = TrainingStats()
    TrainingStats.__module__ = "__main__"
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "1.9.4",
        "state_dict": collections.OrderedDict(("model." + k, v) for k, v in net.state_dict().items()),
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
        "callbacks": {"ModelCheckpoint": mc},
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [],
        "hparams_name": "args",
        "hyper_parameters": argparse.Namespace(lr=0.01, batch_size=32, name="tiny", betas=(0.9, 0.999)),
        "stats": stats,
        "blob": b"\x00\x01\xfe",
        "ratio": 1e-05,
    }
    write("lightning.ckpt", saved(ckpt))
    expect("lightning.ckpt", ckpt, entries={
        "epoch": "3", "global_step": "120", "pytorch-lightning_version": "'1.9.4'",
        "callbacks.ModelCheckpoint": "inert object pytorch_lightning.callbacks.ModelCheckpoint",
        "callbacks.ModelCheckpoint.monitor": "'val_loss'", "callbacks.ModelCheckpoint.save_top_k": "2",
        "hyper_parameters": "inert object argparse.Namespace", "hyper_parameters.lr": "0.01",
        "hyper_parameters.betas": "(0.9, 0.999)", "hyper_parameters.name": "'tiny'",
        "stats": "inert object __main__.TrainingStats", "stats.history": "[1.0, 0.5, 0.25]",
        "stats.best_loss": "0.25", "optimizer_states.0.param_groups.0.betas": "(0.9, 0.999)",
        "optimizer_states.0.param_groups.0.amsgrad": "False", "lr_schedulers": "[]",
        "loops.fit_loop.state_dict": "{}", "loops.fit_loop.epoch_progress.total.ready": "4",
        "blob": "b'\\x00\\x01\\xfe'", "ratio": "1e-05", "hparams_name": "'args'",
    })

    legacy = {"weight": torch.randn(3, 4), "half": torch.randn(5).half(), "step": 7}
    legacy["weight_t"] = legacy["weight"].t()
    legacy["row"] = legacy["weight"][1]
    write("legacy.pt", saved(legacy, _use_new_zipfile_serialization=False))
    expect("legacy.pt", legacy, fmt="PyTorch legacy checkpoint", entries={"step": "7"})

    # Parameters, a tensor carrying Python attributes (_rebuild_from_type_v2), and a whole
    # nn.Module saved with torch.save(model): its weights sit in inert objects' state.
    tagged = torch.tensor([2.0, 4.0])
    tagged.note = "kept by torch as __dict__"
    special = {"param": nn.Parameter(torch.arange(3, dtype=torch.float32)), "tagged": tagged}
    write("parameters.pt", saved(special))
    expect("parameters.pt", special)
    whole = Tiny()
    write("whole_model.pt", saved(whole))
    expect("whole_model.pt", whole, entries={"(root)": "inert object __main__.Tiny", "training": "True",
                                             "_modules.fc": "inert object torch.nn.modules.linear.Linear",
                                             "_modules.fc.in_features": "8", "_forward_hooks": "{}"})

    # Other pickle protocols through torch.save.
    p4 = {"w": torch.arange(4, dtype=torch.int16), "names": ["a", "b"], "d": {"k": 1.5}}
    write("protocol4.pt", saved(p4, pickle_protocol=4))
    expect("protocol4.pt", p4, entries={"names": "['a', 'b']", "d.k": "1.5"})
    p1 = {"w": torch.arange(3, dtype=torch.float64)}
    write("protocol1.pt", saved(p1, pickle_protocol=1))
    expect("protocol1.pt", p1)

    # Protocols 0 and 5 without tensors (protocol 0 cannot write torch's persistent ids).
    plain = collections.OrderedDict([
        ("int", 42), ("neg", -7), ("big", 2**70), ("float", 2.5), ("text", "héllo"), ("none", None),
        ("flag", True), ("pair", (1, "x")), ("nested", {"list": [1, 2, 3]}), ("raw", b"ab\x00")])
    write("protocol0.pt", zip_of([("data.pkl", pickle.dumps(plain, protocol=0)), ("version", b"3\n")]))
    expect("protocol0.pt", {}, entries={"int": "42", "neg": "-7", "float": "2.5", "text": "'héllo'",
                                        "none": "None", "flag": "True", "pair": "(1, 'x')", "nested.list": "[1, 2, 3]",
                                        "raw": "b'ab\\x00'"})
    p5 = {"ba": bytearray(b"xyz"), "s": {3, 1, 2}, "fs": frozenset({"q"}), "b": b"\x7f", "big": -(2**100),
          "f": -0.0, "u": "\u20ac"}
    write("protocol5.pt", zip_of([("data.pkl", pickle.dumps(p5, protocol=5)), ("version", b"3\n")]))
    expect("protocol5.pt", {}, entries={"ba": "b'xyz'", "s": "{1, 2, 3}", "fs": "frozenset({'q'})", "b": "b'\\x7f'",
                                        "f": "-0.0", "u": "'\u20ac'"})

    # Container forms: deflated entries, zip64 extra fields, torch 2.x records and calls.
    sd_bytes = open(path("state_dict.pt"), "rb").read()
    with zipfile.ZipFile(io.BytesIO(sd_bytes)) as z:
        members = [(i.filename.split("/", 1)[1], z.read(i)) for i in z.infolist()]
    write("deflated.pt", zip_of(members, prefix="deflated", method=zipfile.ZIP_DEFLATED))
    expect("deflated.pt", sd)
    vals = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    st = FakeStorage(torch.FloatStorage, "0", 6)
    z64 = {"m": FakeTensor(st, 0, (2, 3), (3, 1)), "mt": FakeTensor(st, 0, (3, 2), (1, 3))}
    write("zip64.pt", zip64_of([("data.pkl", torch_like_pickle(z64)), ("data/0", vals.numpy().tobytes()),
                                ("version", b"3\n"), ("byteorder", b"little")]))
    expect("zip64.pt", {"m": vals.reshape(2, 3), "mt": vals.reshape(2, 3).t()})

    def rebuild_v3(*args):
        raise RuntimeError("fixture stand-in, never called")
    rebuild_v3.__module__, rebuild_v3.__name__, rebuild_v3.__qualname__ = "torch._utils", "_rebuild_tensor_v3", "_rebuild_tensor_v3"
    torch._utils._rebuild_tensor_v3 = rebuild_v3
    raw = torch.tensor([[1.5, -2.0], [0.25, 8.0]], dtype=torch.bfloat16)
    ust = FakeStorage(torch.UntypedStorage, "7", 8)
    t2 = {"v3": FakeTensor(ust, 0, (2, 2), (2, 1), fn=rebuild_v3, extra=(torch.bfloat16,)),
          "p": FakeTensor(FakeStorage(torch.FloatStorage, "1", 2), 0, (2,), (1,))}
    write("torch2_style.pt", zip_of([("data.pkl", torch_like_pickle(t2)), ("data/7", raw.view(torch.int16).numpy().tobytes()),
                                     ("data/1", torch.tensor([9.0, -9.0]).numpy().tobytes()),
                                     ("byteorder", b"little"), ("version", b"3\n")], prefix="torch2"))
    expect("torch2_style.pt", {"v3": raw, "p": torch.tensor([9.0, -9.0])})

    # Values that are legal but awkward: a list containing itself, a deep nest.
    loop = [1]
    loop.append(loop)
    cyc = {"w": torch.ones(2), "loop": loop}
    write("cycle.pt", saved(cyc))
    expect("cycle.pt", {"w": torch.ones(2)}, entries={"loop.0": "1", "loop.1": "same object as 'loop'"})
    depth = 20000
    deep = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."
    write("deep.pt", zip_of([("data.pkl", deep), ("version", b"3\n")]))
    expect("deep.pt", {})

    # Hostile files: each must be refused, naming the callable, and run nothing.
    hostile = {"weight": torch.ones(2), "payload": Evil()}
    write("evil_system.pt", saved(hostile))
    expect_error("evil_system.pt", "refused", "posix.system", "malicious", marker=True)
    write("evil_system_legacy.pt", saved(hostile, _use_new_zipfile_serialization=False))
    expect_error("evil_system_legacy.pt", "refused", "posix.system", marker=True)
    evil_eval = b"\x80\x02" + op_global("builtins", "eval") + op_unicode(f"__import__('os').system('touch {MARKER}')") + b"\x85R."
    write("evil_eval.pt", zip_of([("data.pkl", evil_eval), ("version", b"3\n")]))
    expect_error("evil_eval.pt", "refused", "builtins.eval")
    popen = (b"\x80\x04" + op_stack_global("subprocess", "Popen") + b"]" + op_unicode("touch") + b"a" +
             op_unicode(MARKER) + b"a\x85R.")
    write("evil_popen.pt", zip_of([("data.pkl", popen), ("version", b"3\n")]))
    expect_error("evil_popen.pt", "refused", "subprocess.Popen")
    getattr_p = (b"\x80\x02" + op_global("__builtin__", "getattr") + op_global("torch", "nn") + op_unicode("Module") +
                 b"\x86R.")
    write("evil_getattr.pt", zip_of([("data.pkl", getattr_p), ("version", b"3\n")]))
    expect_error("evil_getattr.pt", "refused", "builtins.getattr")
    qual = b"\x80\x04" + op_stack_global("torch", "serialization.os.system") + op_unicode("true") + b"\x85R."
    write("evil_qualname.pt", zip_of([("data.pkl", qual), ("version", b"3\n")]))
    expect_error("evil_qualname.pt", "refused", "torch.serialization.os.system")
    # The dangerous call hidden after a real state_dict.
    with zipfile.ZipFile(io.BytesIO(sd_bytes)) as z:
        good = z.read("state_dict/data.pkl")
    hidden = good[:-1] + b"0" + evil_eval[2:]  # drop STOP, pop the dict, then the eval pickle
    write("evil_hidden.pt", zip_of([(n, hidden if n == "data.pkl" else d) for n, d in members], prefix="hidden"))
    expect_error("evil_hidden.pt", "refused", "builtins.eval")

    # Damaged and foreign files.
    write("truncated_half.pt", sd_bytes[: len(sd_bytes) // 2])
    expect_error("truncated_half.pt", "zip")
    write("truncated_tail.pt", sd_bytes[:-30])
    expect_error("truncated_tail.pt", "zip")
    cd = sd_bytes.rfind(b"PK\x01\x02")
    write("bad_directory.pt", sd_bytes[:cd] + b"PK\x09\x09" + sd_bytes[cd + 4:])
    expect_error("bad_directory.pt", "central directory")
    rnd = random.Random(1)
    garbage = bytes([0x80, 0x02]) + bytes(rnd.randrange(256) for _ in range(300))
    write("garbage_pkl.pt", zip_of([("data.pkl", garbage), ("version", b"3\n")]))
    expect_error("garbage_pkl.pt", "pickle")
    write("truncated_pkl.pt", zip_of([(n, d[: len(d) // 2] if n == "data.pkl" else d) for n, d in members]))
    expect_error("truncated_pkl.pt", "pickle", "byte")
    past = {"ok": FakeTensor(st, 0, (6,), (1,)), "bad": FakeTensor(st, 2, (2, 3), (3, 1))}
    write("past_storage.pt", zip_of([("data.pkl", torch_like_pickle(past)), ("data/0", vals.numpy().tobytes())]))
    expect_error("past_storage.pt", "tensor 'bad'", "storage '0'", "6")
    missing = {"w": FakeTensor(FakeStorage(torch.FloatStorage, "1", 6), 0, (6,), (1,))}
    write("missing_record.pt", zip_of([("data.pkl", torch_like_pickle(missing)), ("data/0", vals.numpy().tobytes())]))
    expect_error("missing_record.pt", "storage '1'", "archive/data/1")
    short = {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 60), 0, (6,), (1,))}
    write("short_record.pt", zip_of([("data.pkl", torch_like_pickle(short)), ("data/0", vals.numpy().tobytes())]))
    expect_error("short_record.pt", "storage '0'", "60")
    write("big_endian.pt", zip_of([("data.pkl", torch_like_pickle(z64)), ("data/0", vals.numpy().tobytes()),
                                   ("byteorder", b"big")]))
    expect_error("big_endian.pt", "big-endian")
    write("no_data_pkl.pt", zip_of([("weights.bin", b"\x00" * 16)]))
    expect_error("no_data_pkl.pt", "not a PyTorch checkpoint", "data.pkl")
    leg = open(path("legacy.pt"), "rb").read()
    write("legacy_truncated.pt", leg[: len(leg) - 40])
    expect_error("legacy_truncated.pt", "storage")
    write("plain_pickle.pkl", pickle.dumps({"a": 1}, protocol=2))
    expect_error("plain_pickle.pkl", "not a PyTorch checkpoint", "magic number")
    write("not_checkpoint.txt", b"hello, this is text\n")
    expect_error("not_checkpoint.txt", "not a PyTorch checkpoint: expected")
    write("empty.pt", b"")
    expect_error("empty.pt", "not a PyTorch checkpoint", "empty")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("pickle")
        info.size, info.mtime = 4, 0
        tar.addfile(info, io.BytesIO(b"\x80\x02N."))
    write("tar_format.tar", buf.getvalue())
    expect_error("tar_format.tar", "not a PyTorch checkpoint: expected", "tar")

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(expected)} fixtures to {OUT}")


if __name__ == "__main__":
    main()
