// What the pickle reader makes of calls. Nothing is ever imported or run: a handful of
// constructors that checkpoints need are interpreted by hand, every other class becomes an
// inert record, and references to callables that can act on the system are refused.
#include "io/pickle_internal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <unordered_set>

namespace kiln::io::pickle {
namespace detail {
namespace {

// Whole modules whose only use in a pickle is to reach the operating system, the
// interpreter or the network. A prefix match covers submodules (os.path, http.client).
constexpr std::array kDeniedModules = {
    "os", "posix", "nt", "subprocess", "_posixsubprocess", "sys", "importlib", "imp", "pickle", "_pickle",
    "cPickle", "marshal", "runpy", "ctypes", "_ctypes", "socket", "_socket", "shutil", "webbrowser", "code",
    "codeop", "pty", "io", "_io", "commands", "popen2", "pdb", "bdb", "timeit", "trace", "profile", "cProfile",
    "multiprocessing", "_multiprocessing", "asyncio", "_thread", "thread", "threading", "signal", "urllib",
    "urllib2", "urllib3", "http", "httplib", "ftplib", "smtplib", "telnetlib", "requests", "zipimport",
    "pkgutil", "distutils", "setuptools", "pip", "gc", "inspect", "ast", "dill", "cloudpickle", "joblib",
    "platform", "torch.hub", "numpy.f2py", "numpy.distutils", "pydoc", "site", "venv", "ensurepip", "xmlrpc",
    "tarfile", "zipfile", "sqlite3", "dbm", "shelve",
};

// Names inside builtins that evaluate code, import, or reach arbitrary attributes or files.
constexpr std::array kDeniedBuiltins = {
    "eval", "exec", "execfile", "compile", "getattr", "setattr", "delattr", "__import__", "open", "input",
    "raw_input", "breakpoint", "globals", "locals", "vars", "apply", "file", "reload",
};

// Single callables outside those modules that make code objects, reach attributes by
// name, or load further pickles.
constexpr std::array kDeniedNames = {
    "operator.attrgetter", "operator.methodcaller", "_operator.attrgetter", "_operator.methodcaller",
    "functools.reduce", "_functools.reduce", "types.FunctionType", "types.CodeType", "types.LambdaType",
    "types.MethodType", "types.ModuleType", "types.BuiltinFunctionType", "types.CellType", "types.new_class",
    "numpy.testing._private.utils.runstring", "numpy.load", "numpy.lib.npyio.load", "torch.load",
    "torch.serialization.load", "torch.serialization._load", "torch.serialization._legacy_load",
    "torch.jit.load",
};

// Dunder attributes that qualnames may legitimately contain; others walk into internals
// (__globals__, __builtins__, __subclasses__) and are refused.
constexpr std::array kAllowedDunders = {"__main__", "__newobj__", "__newobj_ex__", "__torch__"};

bool moduleMatches(std::string_view module, std::string_view denied)
{
    return module == denied || (module.size() > denied.size() && module.substr(0, denied.size()) == denied &&
                                module[denied.size()] == '.');
}

Ref makeObject(PickleGraph& g, Ref callable, Ref args)
{
    Node n;
    n.kind = Kind::Object;
    n.items.assign(kObjSlots, PickleGraph::kNone);
    n.items[kObjCallable] = callable;
    n.items[kObjArgs] = args;
    return unwrap(g.add(std::move(n)));
}

Ref makeContainer(PickleGraph& g, Kind k, std::vector<Ref> items = {})
{
    Node n;
    n.kind = k;
    n.items = std::move(items);
    return unwrap(g.add(std::move(n)));
}

const std::vector<Ref>& argsOf(const PickleGraph& g, Ref args, const std::string& fn)
{
    const Node& a = g.at(args);
    if (a.kind != Kind::Tuple) fail(fn + " is called with a " + kindName(a.kind) + " of arguments, expected a tuple");
    return a.items;
}

std::int64_t intArg(const PickleGraph& g, Ref r, const std::string& what)
{
    const Node& n = g.at(r);
    if (n.kind != Kind::Int) fail(what + " should be an integer, found " + g.describe(r, 60));
    return n.integer;
}

std::vector<std::int64_t> intList(const PickleGraph& g, Ref r, const std::string& what)
{
    const Node& n = g.at(r);
    if (n.kind != Kind::Tuple && n.kind != Kind::List)
        fail(what + " should be a tuple of integers, found " + g.describe(r, 60));
    if (n.items.size() > 64) fail(what + " has " + std::to_string(n.items.size()) + " dimensions; at most 64 are supported");
    std::vector<std::int64_t> out;
    out.reserve(n.items.size());
    for (Ref item : n.items) {
        const std::int64_t v = intArg(g, item, what + " entries");
        if (v < 0) fail(what + " holds a negative value " + std::to_string(v));
        out.push_back(v);
    }
    return out;
}

// torch._utils._rebuild_tensor{,_v2,_v3}(storage, offset, size, stride, ...)
Ref rebuildTensor(PickleGraph& g, const std::string& fn, Ref args, std::size_t minArgs, bool hasDType)
{
    const std::vector<Ref> a = argsOf(g, args, fn);
    if (a.size() < minArgs)
        fail(fn + " needs at least " + std::to_string(minArgs) + " arguments (storage, offset, size, stride, ...), found " +
             std::to_string(a.size()));
    if (g.at(a[0]).kind != Kind::Storage)
        fail(fn + " should get a storage as its first argument, found " + g.describe(a[0], 60));
    TensorInfo t;
    t.storage = a[0];
    t.storageOffset = intArg(g, a[1], "the tensor's storage offset");
    if (t.storageOffset < 0) fail("the tensor's storage offset is negative");
    t.shape = intList(g, a[2], "the tensor's size");
    t.stride = intList(g, a[3], "the tensor's stride");
    if (t.shape.size() != t.stride.size())
        fail("the tensor's size has " + std::to_string(t.shape.size()) + " dimensions but its stride has " +
             std::to_string(t.stride.size()));
    if (hasDType) {
        const Node& d = g.at(a[6]);
        std::optional<DType> dt = d.kind == Kind::Global ? dtypeOfTorchDType(d.text, d.name) : std::nullopt;
        if (!dt) fail(fn + " names a dtype Kiln does not know: " + g.describe(a[6], 60));
        t.dtype = dt;
    }
    return unwrap(g.makeTensor(std::move(t)));
}

std::string latin1(const std::string& utf8Text)
{
    std::string out;
    for (std::size_t i = 0; i < utf8Text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(utf8Text[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if ((c & 0xE0) == 0xC0 && i + 1 < utf8Text.size()) {
            const unsigned cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(utf8Text[i + 1]) & 0x3Fu);
            if (cp > 0xFF) fail("_codecs.encode: a character beyond Latin-1 cannot be encoded as latin-1");
            out += static_cast<char>(cp);
            ++i;
        } else {
            fail("_codecs.encode: a character beyond Latin-1 cannot be encoded as latin-1");
        }
    }
    return out;
}

Ref uniqueItems(PickleGraph& g, Kind k, const std::vector<Ref>& items)
{
    std::vector<Ref> out;
    std::unordered_set<std::string> seen;
    for (Ref r : items) {
        if (auto key = g.hashKey(r); key && !seen.insert(*key).second) continue;
        out.push_back(r);
    }
    return makeContainer(g, k, std::move(out));
}

const std::vector<Ref>* iterableItems(const PickleGraph& g, Ref r)
{
    const Node& n = g.at(r);
    if (n.kind == Kind::List || n.kind == Kind::Tuple || n.kind == Kind::Set || n.kind == Kind::FrozenSet) return &n.items;
    return nullptr;
}

}  // namespace

const char* kindName(Kind k)
{
    switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::FrozenSet: return "frozenset";
    case Kind::Global: return "class or function reference";
    case Kind::Object: return "inert object";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    }
    return "value";
}

std::string normalizeModule(std::string_view module)
{
    if (module == "__builtin__" || module == "exceptions") return "builtins";
    if (module == "copy_reg") return "copyreg";
    if (module == "torch.tensor") return "torch._tensor";  // renamed in torch 1.8; files keep the old name
    return std::string(module);
}

void checkGlobal(std::string_view module, std::string_view name)
{
    if (auto reason = refusedCallable(module, name))
        throw Failure{"refused: the file asks to call " + *reason +
                          "; a checkpoint never needs this and the file may be malicious",
                      "do not open it with torch.load either; use it only if you can verify where it came from",
                      true};
}

namespace {
Ref callReduceAt(PickleGraph& g, Ref callable, Ref args, int depth);
}

Ref callReduce(PickleGraph& g, Ref callable, Ref args) { return callReduceAt(g, callable, args, 0); }

namespace {
Ref callReduceAt(PickleGraph& g, Ref callable, Ref args, int depth)
{
    const Node& c = g.at(callable);
    if (c.kind != Kind::Global) {
        argsOf(g, args, "a call");
        return makeObject(g, callable, args);
    }
    const std::string fn = c.text + "." + c.name;
    const std::vector<Ref> a = argsOf(g, args, fn);  // a copy: the arena may grow below

    if (fn == "collections.OrderedDict" || fn == "builtins.dict" || fn == "collections.defaultdict") {
        const Ref d = makeContainer(g, Kind::Dict);
        // Python 2 OrderedDicts and dict(pairs) carry their items as a list of pairs.
        const std::size_t itemsArg = fn == "collections.defaultdict" ? 1 : 0;
        if (a.size() > itemsArg) {
            if (const auto* pairs = iterableItems(g, a[itemsArg])) {
                const std::vector<Ref> copy = *pairs;
                for (Ref p : copy) {
                    const auto* kv = iterableItems(g, p);
                    if (!kv || kv->size() != 2) fail(fn + " is given an item that is not a (key, value) pair");
                    const Ref k = (*kv)[0], v = (*kv)[1];
                    g.dictSet(d, k, v);
                }
            } else if (g.at(a[itemsArg]).kind == Kind::Dict) {
                const std::vector<Ref> copy = g.at(a[itemsArg]).items;
                for (std::size_t i = 0; i + 1 < copy.size(); i += 2) g.dictSet(d, copy[i], copy[i + 1]);
            }
        }
        return d;
    }
    if (fn == "builtins.set" || fn == "builtins.frozenset" || fn == "builtins.list" || fn == "builtins.tuple") {
        const Kind k = fn == "builtins.set" ? Kind::Set : fn == "builtins.frozenset" ? Kind::FrozenSet
                     : fn == "builtins.list" ? Kind::List : Kind::Tuple;
        std::vector<Ref> items;
        if (!a.empty()) {
            const auto* src = iterableItems(g, a[0]);
            if (!src) fail(fn + " is given a " + std::string(kindName(g.at(a[0]).kind)) + ", expected a sequence");
            items = *src;
        }
        return (k == Kind::Set || k == Kind::FrozenSet) ? uniqueItems(g, k, items) : makeContainer(g, k, std::move(items));
    }
    if (fn == "builtins.bytearray" || fn == "builtins.bytes") {
        if (a.empty()) return unwrap(g.makeStr(Kind::Bytes, {}));
        const Node& src = g.at(a[0]);
        if (src.kind == Kind::Bytes) return unwrap(g.makeStr(Kind::Bytes, src.text));
        if (src.kind == Kind::Str && a.size() >= 2 && g.at(a[1]).kind == Kind::Str) {
            const std::string enc = g.at(a[1]).text;
            return unwrap(g.makeStr(Kind::Bytes, enc == "utf-8" || enc == "utf8" ? src.text : latin1(src.text)));
        }
        return makeObject(g, callable, args);
    }
    if (fn == "_codecs.encode") {
        // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1').
        if (a.size() < 1 || g.at(a[0]).kind != Kind::Str) fail("_codecs.encode expects a string to encode");
        std::string enc = a.size() >= 2 && g.at(a[1]).kind == Kind::Str ? g.at(a[1]).text : "utf-8";
        std::transform(enc.begin(), enc.end(), enc.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        std::replace(enc.begin(), enc.end(), '_', '-');
        const std::string text = g.at(a[0]).text;
        if (enc == "latin1" || enc == "latin-1" || enc == "iso-8859-1" || enc == "l1")
            return unwrap(g.makeStr(Kind::Bytes, latin1(text)));
        if (enc == "utf-8" || enc == "utf8" || enc == "ascii")
            return unwrap(g.makeStr(Kind::Bytes, text));
        fail("_codecs.encode with encoding '" + enc + "' is not supported");
    }
    if (fn == "torch._utils._rebuild_tensor") return rebuildTensor(g, fn, args, 4, false);
    if (fn == "torch._utils._rebuild_tensor_v2") return rebuildTensor(g, fn, args, 4, false);
    if (fn == "torch._utils._rebuild_tensor_v3") return rebuildTensor(g, fn, args, 7, true);
    if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
        if (a.empty() || g.at(a[0]).kind != Kind::Tensor) fail(fn + " should get a tensor as its first argument");
        return a[0];  // requires_grad, hooks and extra state do not matter to stored weights
    }
    if (fn == "torch._tensor._rebuild_from_type_v2" || fn == "torch._tensor._rebuild_from_type") {
        // (func, new_type, args, state): a Tensor subclass; the data is func(*args).
        if (a.size() < 3) fail(fn + " needs (function, type, args, ...)");
        // Real files nest this once; a deep chain is hostile and would recurse.
        if (depth >= 4) fail(fn + " is nested more than 4 deep");
        const Ref inner = callReduceAt(g, a[0], a[2], depth + 1);
        if (g.at(inner).kind == Kind::Tensor) return inner;
        return makeObject(g, callable, args);
    }
    if (fn == "torch.Size") {
        if (a.size() != 1) fail("torch.Size expects one sequence of sizes");
        const auto* src = iterableItems(g, a[0]);
        if (!src) fail("torch.Size expects a sequence of sizes");
        return makeContainer(g, Kind::Tuple, *src);
    }
    if (fn == "copyreg._reconstructor") {
        // (cls, base, state): the protocol 0/1 way of making an instance of a plain class.
        if (a.size() < 1) fail("copyreg._reconstructor needs a class");
        return makeObject(g, a[0], makeContainer(g, Kind::Tuple));
    }
    return makeObject(g, callable, args);
}
}  // namespace

Ref callNewObj(PickleGraph& g, Ref cls, Ref args, Ref kwargs)
{
    if (kwargs != PickleGraph::kNone && g.at(kwargs).kind != Kind::Dict)
        fail("NEWOBJ_EX needs a dict of keyword arguments, found a " + std::string(kindName(g.at(kwargs).kind)));
    const Node& c = g.at(cls);
    if (c.kind == Kind::Global) {
        const std::string fn = c.text + "." + c.name;
        argsOf(g, args, fn);
        // __new__ of a built-in container makes it empty; items follow through SETITEMS/APPENDS.
        if (fn == "collections.OrderedDict" || fn == "builtins.dict" || fn == "collections.defaultdict")
            return makeContainer(g, Kind::Dict);
        if (fn == "builtins.list") return makeContainer(g, Kind::List);
        if (fn == "builtins.set") return makeContainer(g, Kind::Set);
        if (fn == "builtins.frozenset" || fn == "builtins.tuple" || fn == "torch.Size")
            return callReduce(g, cls, args);
    } else {
        argsOf(g, args, "NEWOBJ");
    }
    return makeObject(g, cls, args);
}

void applyBuild(PickleGraph& g, Ref obj, Ref state)
{
    const Kind k = g.at(obj).kind;
    switch (k) {
    case Kind::Object: {
        const Ref current = g.at(obj).items[kObjState];
        // A second BUILD, or (dict, slots) states, merge like __dict__.update would.
        if (current != PickleGraph::kNone && g.at(current).kind == Kind::Dict && g.at(state).kind == Kind::Dict) {
            const std::vector<Ref> kv = g.at(state).items;
            for (std::size_t i = 0; i + 1 < kv.size(); i += 2) g.dictSet(current, kv[i], kv[i + 1]);
        } else {
            g.mut(obj).items[kObjState] = state;
        }
        return;
    }
    // Instance attributes of containers (OrderedDict._metadata of a state_dict) and
    // tensor subclasses are not data Kiln reads.
    case Kind::Dict: case Kind::List: case Kind::Set: case Kind::Tensor: case Kind::Storage: case Kind::Global:
        return;
    default:
        fail(std::string("BUILD sets state on a ") + kindName(k) + ", which has none");
    }
}

}  // namespace detail

std::optional<std::string> refusedCallable(std::string_view moduleIn, std::string_view name)
{
    const std::string module = detail::normalizeModule(moduleIn);
    const std::string full = module + "." + std::string(name);
    auto denied = [](std::string_view path) {
        for (const char* m : detail::kDeniedModules)
            if (detail::moduleMatches(path, m)) return true;
        for (const char* n : detail::kDeniedNames)
            if (detail::moduleMatches(path, n)) return true;
        constexpr std::string_view kBuiltins = "builtins.";
        if (path.substr(0, kBuiltins.size()) == kBuiltins) {
            std::string_view rest = path.substr(kBuiltins.size());
            rest = rest.substr(0, rest.find('.'));
            for (const char* b : detail::kDeniedBuiltins)
                if (rest == b) return true;
        }
        return false;
    };
    if (denied(full)) return full;
    // Protocol 4 resolves a dotted name by getattr, so "serialization.os.system" inside
    // torch reaches os.system: every tail of the name is checked as a path of its own.
    for (std::size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
        const std::string_view tail = name.substr(dot + 1);
        if (denied(tail)) return full;
    }
    // Dunders reach interpreter internals (__globals__, __builtins__, __subclasses__).
    for (std::size_t start = 0; start <= name.size();) {
        const std::size_t end = std::min(name.find('.', start), name.size());
        const std::string_view part = name.substr(start, end - start);
        if (part.size() > 4 && part.substr(0, 2) == "__" && part.substr(part.size() - 2) == "__" &&
            std::find(detail::kAllowedDunders.begin(), detail::kAllowedDunders.end(), part) == detail::kAllowedDunders.end())
            return full;
        start = end + 1;
    }
    return std::nullopt;
}

std::optional<DType> dtypeOfStorageType(std::string_view module, std::string_view name)
{
    if (module != "torch" && module != "torch.cuda" && module != "torch.storage") return std::nullopt;
    static constexpr std::pair<std::string_view, DType> kTypes[] = {
        {"FloatStorage", DType::F32}, {"DoubleStorage", DType::F64}, {"HalfStorage", DType::F16},
        {"BFloat16Storage", DType::BF16}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
        {"ShortStorage", DType::I16}, {"CharStorage", DType::I8}, {"ByteStorage", DType::U8},
        {"BoolStorage", DType::Bool}, {"UntypedStorage", DType::U8},
    };
    for (const auto& [n, t] : kTypes)
        if (name == n) return t;
    return std::nullopt;
}

std::optional<DType> dtypeOfTorchDType(std::string_view module, std::string_view name)
{
    if (module != "torch") return std::nullopt;
    static constexpr std::pair<std::string_view, DType> kTypes[] = {
        {"float32", DType::F32}, {"float", DType::F32}, {"float64", DType::F64}, {"double", DType::F64},
        {"float16", DType::F16}, {"half", DType::F16}, {"bfloat16", DType::BF16}, {"int64", DType::I64},
        {"long", DType::I64}, {"int32", DType::I32}, {"int", DType::I32}, {"int16", DType::I16},
        {"short", DType::I16}, {"int8", DType::I8}, {"uint8", DType::U8}, {"bool", DType::Bool},
        {"uint16", DType::U16}, {"uint32", DType::U32}, {"uint64", DType::U64},
        {"float8_e4m3fn", DType::F8_E4M3}, {"float8_e5m2", DType::F8_E5M2},
    };
    for (const auto& [n, t] : kTypes)
        if (name == n) return t;
    return std::nullopt;
}

}  // namespace kiln::io::pickle
