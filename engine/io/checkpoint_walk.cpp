#include "io/checkpoint_walk.h"

#include <unordered_map>

namespace kiln::io::detail {
namespace {

using pickle::Kind;
using pickle::Node;
using pickle::PickleGraph;
using pickle::Ref;

// Bounds on what one file may make the walk produce. Shared sub-values can make the
// listing larger than the pickle (one state dict reached from many objects); these stop
// a small hostile file from turning into gigabytes of names.
constexpr int kMaxDepth = 200;
constexpr std::size_t kMaxNameBytes = 4096;
constexpr std::size_t kMaxListed = 4'000'000;
constexpr std::size_t kMaxListedBytes = std::size_t{256} << 20;

struct WalkFailure {
    Error error;
};

bool isLeaf(Kind k)
{
    switch (k) {
    case Kind::None: case Kind::Bool: case Kind::Int: case Kind::BigInt: case Kind::Float:
    case Kind::Str: case Kind::Bytes: case Kind::Global:
        return true;
    default:
        return false;
    }
}

std::string shapeText(const std::vector<std::int64_t>& v)
{
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
}

class Walker {
public:
    Walker(const PickleGraph& g, const StorageResolver& resolve, const std::string& where,
           std::vector<CheckpointTensor>& tensors, std::vector<CheckpointEntry>& entries)
        : g_(g), resolve_(resolve), where_(where), tensors_(tensors), entries_(entries) {}

    void run(Ref root)
    {
        stack_.push_back({root, std::string(), 0});
        while (!stack_.empty()) {
            Frame f = std::move(stack_.back());
            stack_.pop_back();
            visit(f);
        }
    }

private:
    struct Frame {
        Ref ref;
        std::string path;
        int depth;
    };
    const PickleGraph& g_;
    const StorageResolver& resolve_;
    const std::string& where_;
    std::vector<CheckpointTensor>& tensors_;
    std::vector<CheckpointEntry>& entries_;
    std::vector<Frame> stack_;
    std::unordered_map<Ref, std::string> seen_;
    std::size_t listedBytes_ = 0;

    static std::string shown(const std::string& path) { return path.empty() ? "(root)" : path; }

    void count(std::size_t bytes)
    {
        listedBytes_ += bytes;
        if (tensors_.size() + entries_.size() >= kMaxListed || listedBytes_ > kMaxListedBytes)
            throw WalkFailure{makeError("the checkpoint lists more than " + std::to_string(kMaxListed) +
                                            " values or " + std::to_string(kMaxListedBytes >> 20) +
                                            " MiB of names; refusing to read it",
                                        where_, "the file is damaged or built to exhaust memory")};
    }
    void entry(const std::string& path, std::string summary)
    {
        count(path.size() + summary.size());
        entries_.push_back({shown(path), std::move(summary)});
    }
    std::string keyText(Ref k) const
    {
        const Node& n = g_.at(k);
        if (n.kind == Kind::Str) return n.text;
        if (n.kind == Kind::Int) return std::to_string(n.integer);
        return g_.describe(k, 80);
    }
    // Children are pushed in reverse so that they come off the stack in file order.
    void pushChildren(const std::vector<Frame>& children)
    {
        for (auto it = children.rbegin(); it != children.rend(); ++it) stack_.push_back(*it);
    }
    static std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

    void addDictItems(std::vector<Frame>& out, const Node& dict, const std::string& path, int depth) const
    {
        for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2)
            out.push_back({dict.items[i + 1], join(path, keyText(dict.items[i])), depth});
    }
    void addSeqItems(std::vector<Frame>& out, const Node& seq, const std::string& path, int depth) const
    {
        for (std::size_t i = 0; i < seq.items.size(); ++i) out.push_back({seq.items[i], join(path, std::to_string(i)), depth});
    }
    bool allLeaves(const Node& n) const
    {
        for (Ref r : n.items)
            if (!isLeaf(g_.at(r).kind)) return false;
        return true;
    }

    void visit(const Frame& f)
    {
        const Node& n = g_.at(f.ref);
        if (isLeaf(n.kind)) {
            entry(f.path, g_.describe(f.ref));
            return;
        }
        if (n.kind == Kind::Tensor) {
            addTensor(f);
            return;
        }
        if (n.kind == Kind::Storage) {
            const auto& s = g_.storage(n);
            entry(f.path, "storage " + s.typeName + " '" + s.key + "' of " + std::to_string(s.numel) + " elements");
            return;
        }
        if (f.depth >= kMaxDepth) {
            entry(f.path, "(nested deeper than " + std::to_string(kMaxDepth) + " levels; not listed)");
            return;
        }
        if (f.path.size() > kMaxNameBytes) {
            entry(f.path.substr(0, 200) + "...", "(name longer than " + std::to_string(kMaxNameBytes) + " bytes; not listed)");
            return;
        }
        auto [it, first] = seen_.emplace(f.ref, f.path);
        if (!first) {
            entry(f.path, "same object as '" + shown(it->second) + "'");
            return;
        }
        const int d = f.depth + 1;
        std::vector<Frame> children;
        switch (n.kind) {
        case Kind::Dict:
            if (n.items.empty()) entry(f.path, "{}");
            addDictItems(children, n, f.path, d);
            break;
        case Kind::List: case Kind::Tuple: case Kind::Set: case Kind::FrozenSet:
            // A list of plain numbers or names reads best as one line: "betas" -> "(0.9, 0.999)".
            if (allLeaves(n)) entry(f.path, g_.describe(f.ref));
            else addSeqItems(children, n, f.path, d);
            break;
        case Kind::Object: addObject(children, f, n, d); break;
        default: entry(f.path, g_.describe(f.ref)); break;
        }
        pushChildren(children);
    }

    void addObject(std::vector<Frame>& children, const Frame& f, const Node& n, int d)
    {
        const Ref cls = n.items[pickle::kObjCallable];
        const Ref args = n.items[pickle::kObjArgs];
        std::string summary = "inert object " + (g_.at(cls).kind == Kind::Global ? g_.globalName(cls) : std::string("(unnamed)"));
        const Node& a = g_.at(args);
        const bool simpleArgs = a.kind == Kind::Tuple && allLeaves(a);
        if (simpleArgs && !a.items.empty()) summary += " " + g_.describe(args, 120);
        entry(f.path, std::move(summary));
        if (!simpleArgs) children.push_back({args, join(f.path, "args"), d});
        // State is usually the instance __dict__; its keys read as attributes of the object.
        const Ref state = n.items[pickle::kObjState];
        const Node& s = g_.at(state);
        if (s.kind == Kind::Dict) {
            addDictItems(children, s, f.path, d);
        } else if (s.kind == Kind::Tuple && s.items.size() == 2 && allDictsOrNone(s)) {
            for (Ref part : s.items)
                if (g_.at(part).kind == Kind::Dict) addDictItems(children, g_.at(part), f.path, d);
        } else if (state != PickleGraph::kNone) {
            children.push_back({state, join(f.path, "state"), d});
        }
        if (const Ref list = n.items[pickle::kObjListItems]; list != PickleGraph::kNone) addSeqItems(children, g_.at(list), f.path, d);
        if (const Ref dict = n.items[pickle::kObjDictItems]; dict != PickleGraph::kNone) addDictItems(children, g_.at(dict), f.path, d);
    }
    bool allDictsOrNone(const Node& t) const
    {
        for (Ref r : t.items)
            if (g_.at(r).kind != Kind::Dict && g_.at(r).kind != Kind::None) return false;
        return true;
    }

    void addTensor(const Frame& f)
    {
        const Node& n = g_.at(f.ref);
        const pickle::TensorInfo& ti = g_.tensor(n);
        const pickle::StorageInfo& si = g_.storage(g_.at(ti.storage));
        CheckpointTensor t;
        t.name = shown(f.path);
        t.dtype = ti.dtype ? *ti.dtype : si.dtype.value_or(DType::U8);
        t.shape = ti.shape;
        t.stride = ti.stride;
        t.storageOffset = ti.storageOffset;
        t.storageKey = si.isView ? si.viewKey : si.key;
        auto bytes = resolve_(si);
        if (!bytes) throw WalkFailure{bytes.error()};
        t.storage = bytes.value();
        const std::int64_t have = static_cast<std::int64_t>(t.storage.size() / dtypeSize(t.dtype));
        const auto need = elementsSpanned(t.shape, t.stride, t.storageOffset);
        if (!need || *need > have)
            throw WalkFailure{makeError(
                "tensor '" + t.name + "' (shape " + shapeText(t.shape) + ", stride " + shapeText(t.stride) + ", offset " +
                    std::to_string(t.storageOffset) + ") reaches " +
                    (need ? "element " + std::to_string(*need - 1) : std::string("beyond any addressable element")) +
                    " of its storage '" + t.storageKey + "', which holds only " + std::to_string(have) + " " +
                    std::string(dtypeName(t.dtype)) + " elements",
                where_, "the file is damaged or was edited by hand")};
        count(t.name.size() + t.storageKey.size() + 16 * t.shape.size());
        tensors_.push_back(std::move(t));
    }
};

}  // namespace

Result<void> collectCheckpoint(const PickleGraph& graph, Ref root, const StorageResolver& resolve, const std::string& where,
                               std::vector<CheckpointTensor>& tensors, std::vector<CheckpointEntry>& entries)
{
    try {
        Walker(graph, resolve, where, tensors, entries).run(root);
    } catch (const WalkFailure& f) {
        return f.error;
    }
    return success();
}

}  // namespace kiln::io::detail
