// A pickle reader that never executes anything.
//
// Python's unpickler imports modules and calls whatever the stream names; that is how a
// .ckpt can run `os.system`. Here the stream is interpreted into a graph of inert values:
// GLOBAL yields a symbolic (module, name) reference, and REDUCE / NEWOBJ / BUILD are given
// meaning only for a short list of constructors that checkpoints need (OrderedDict, torch's
// tensor rebuild functions, ...). Any other class becomes an inert Object record the caller
// can list. A reference to a known-dangerous callable (os.system, builtins.eval, ...) makes
// the whole stream refused, because no checkpoint needs one and its presence means the file
// was built to attack whoever loads it with torch.load.
//
// Values live in a PickleGraph arena and refer to each other by index, so memo sharing and
// mutation after memoization behave as in Python, cycles are harmless, and tearing down a
// deeply nested value cannot recurse.
#pragma once

#include "io/dtype.h"
#include "kiln/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::io::pickle {

using Ref = std::uint32_t;

enum class Kind : std::uint8_t {
    None, Bool, Int, BigInt, Float, Str, Bytes,
    List, Tuple, Dict, Set, FrozenSet,
    Global,   // a module.name reference that was never imported
    Object,   // an inert instance of a class we do not interpret
    Storage,  // what the persistent-id callback made of a torch storage reference
    Tensor,   // a torch tensor rebuilt from a storage, offset, size and stride
};

struct StorageInfo {
    std::optional<DType> dtype;  // nullopt: torch.UntypedStorage (bytes)
    std::string typeName;        // "FloatStorage", as the file names it
    std::string key;             // storage record name ("0", "140234...")
    std::string location;        // "cpu", "cuda:0"
    std::int64_t numel = 0;      // elements of `dtype` (bytes when untyped)
    // Legacy files may describe a storage as a window of a larger root storage.
    bool isView = false;
    std::string viewKey;
    std::int64_t viewOffset = 0, viewSize = 0;  // in elements
};

struct TensorInfo {
    Ref storage = 0;
    std::int64_t storageOffset = 0;  // elements
    std::vector<std::int64_t> shape, stride;
    std::optional<DType> dtype;  // set when the file states it (torch 2.x _rebuild_tensor_v3)
};

struct Node {
    Kind kind = Kind::None;
    bool flag = false;        // Bool value
    std::int64_t integer = 0; // Int value; index into storages/tensors for Storage/Tensor
    double real = 0;          // Float value
    std::string text;         // Str/Bytes content; BigInt little-endian two's complement; Global module
    std::string name;         // Global name
    // List/Tuple/Set items; Dict keys and values interleaved (k0, v0, k1, v1, ...);
    // Object: {class or callable, args, state, list items, dict items} (see ObjectSlot).
    std::vector<Ref> items;
    std::unique_ptr<std::unordered_map<std::string, std::size_t>> dictIndex;  // hashable key -> pair index
};

enum ObjectSlot : std::size_t { kObjCallable = 0, kObjArgs, kObjState, kObjListItems, kObjDictItems, kObjSlots };

class PickleGraph {
public:
    PickleGraph();

    static constexpr Ref kNone = 0, kTrue = 1, kFalse = 2;

    const Node& at(Ref r) const { return nodes_[r]; }
    std::size_t size() const { return nodes_.size(); }
    const StorageInfo& storage(const Node& n) const { return storages_[static_cast<std::size_t>(n.integer)]; }
    const TensorInfo& tensor(const Node& n) const { return tensors_[static_cast<std::size_t>(n.integer)]; }

    // Builders; each fails only when the graph outgrows its cap (see kMaxNodes).
    Result<Ref> add(Node node);
    Result<Ref> makeInt(std::int64_t v);
    Result<Ref> makeStr(Kind kind, std::string text);
    Result<Ref> makeGlobal(std::string module, std::string name);
    Result<Ref> makeStorage(StorageInfo info);
    Result<Ref> makeTensor(TensorInfo info);
    Node& mut(Ref r) { return nodes_[r]; }

    // Python semantics for d[key] = value: a hashable key already present is replaced.
    void dictSet(Ref dict, Ref key, Ref value);

    // Module and name of a Global, "module.name".
    std::string globalName(Ref r) const;

    // A short, bounded, Python-like rendering of a value for listings and messages:
    // 3, 'adam', (1, 2), [0.9, 0.999], None. Never recurses deeper than a few levels.
    std::string describe(Ref r, std::size_t maxChars = 200) const;

    // A key usable for hashing (str/int/bytes/bool/None/float), or nullopt for others.
    std::optional<std::string> hashKey(Ref r) const;

    // A cap on values per stream: every opcode makes at most one node, so this bounds
    // memory to what the input could justify even for hostile streams.
    static constexpr std::size_t kMaxNodes = std::size_t{1} << 24;

private:
    std::vector<Node> nodes_;
    std::vector<StorageInfo> storages_;
    std::vector<TensorInfo> tensors_;
    void describeInto(Ref r, std::string& out, std::size_t maxChars, int depth) const;
};

// Turns a persistent id (the value BINPERSID / PERSID names) into the value to push.
using PersistentLoader = std::function<Result<Ref>(PickleGraph&, Ref pid)>;

struct UnpickleOptions {
    PersistentLoader persistentLoad;  // empty: persistent ids are an error
    std::string where;                // file name (and member) for messages
};

// Runs one pickle stream starting at bytes[pos] up to and including its STOP opcode, and
// sets pos just past it (legacy torch files hold several pickles back to back).
Result<Ref> unpickle(PickleGraph& graph, std::span<const std::uint8_t> bytes, std::size_t& pos,
                     const UnpickleOptions& options);

// The refusal policy, exposed for tests and for callers that want to pre-check names:
// the reason a reference to module.name is refused, or nullopt when it is allowed.
std::optional<std::string> refusedCallable(std::string_view module, std::string_view name);

// torch storage class names ("FloatStorage", "torch.cuda.HalfStorage") and dtype objects
// ("float32", "half") to Kiln dtypes.
std::optional<DType> dtypeOfStorageType(std::string_view module, std::string_view name);
std::optional<DType> dtypeOfTorchDType(std::string_view module, std::string_view name);

}  // namespace kiln::io::pickle
