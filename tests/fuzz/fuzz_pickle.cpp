// libFuzzer entry for the PyTorch checkpoint reader. Each input is tried three ways:
//   1. as a whole file (zip or legacy checkpoint) through TorchCheckpoint::fromBytes;
//   2. as back-to-back pickle streams straight into the pickle machine;
//   3. as the data.pkl of a well-formed zip checkpoint with a real storage record, so that
//      mutated pickles reach tensor rebuilding, the walk and contiguousBytes without the
//      fuzzer first having to discover the zip format.
// Every tensor found is gathered, so bounds mistakes show up under ASan.
#include "io/pickle.h"
#include "io/torch_checkpoint.h"

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace kiln::io;

void exercise(const kiln::Result<TorchCheckpoint>& ck)
{
    if (!ck) {
        volatile std::size_t n = ck.error().message().size();
        (void)n;
        return;
    }
    for (const CheckpointTensor& t : ck->tensors()) {
        auto bytes = ck->contiguousBytes(t);
        if (bytes && !bytes->empty()) {
            volatile std::uint8_t sink = bytes->front() ^ bytes->back();
            (void)sink;
        }
    }
    std::size_t total = 0;
    for (const CheckpointEntry& e : ck->entries()) total += e.name.size() + e.summary.size();
    volatile std::size_t sink = total;
    (void)sink;
}

void put16(std::vector<std::uint8_t>& v, std::uint32_t x) { v.push_back(x & 0xff); v.push_back((x >> 8) & 0xff); }
void put32(std::vector<std::uint8_t>& v, std::uint32_t x) { put16(v, x & 0xffff); put16(v, x >> 16); }

// A stored (uncompressed) zip, as torch.save writes it, of the given members.
std::vector<std::uint8_t> storedZip(const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& members)
{
    std::vector<std::uint8_t> out, central;
    for (const auto& [name, data] : members) {
        const auto offset = static_cast<std::uint32_t>(out.size());
        const auto crc = static_cast<std::uint32_t>(crc32(0, data.data(), static_cast<uInt>(data.size())));
        const auto size = static_cast<std::uint32_t>(data.size());
        put32(out, 0x04034b50); put16(out, 20); put16(out, 0); put16(out, 0); put32(out, 0);
        put32(out, crc); put32(out, size); put32(out, size); put16(out, static_cast<std::uint32_t>(name.size())); put16(out, 0);
        out.insert(out.end(), name.begin(), name.end());
        out.insert(out.end(), data.begin(), data.end());
        put32(central, 0x02014b50); put16(central, 20); put16(central, 20); put16(central, 0); put16(central, 0);
        put32(central, 0); put32(central, crc); put32(central, size); put32(central, size);
        put16(central, static_cast<std::uint32_t>(name.size())); put16(central, 0); put16(central, 0); put16(central, 0);
        put16(central, 0); put32(central, 0); put32(central, offset);
        central.insert(central.end(), name.begin(), name.end());
    }
    const auto cdOffset = static_cast<std::uint32_t>(out.size());
    out.insert(out.end(), central.begin(), central.end());
    put32(out, 0x06054b50); put16(out, 0); put16(out, 0);
    put16(out, static_cast<std::uint32_t>(members.size())); put16(out, static_cast<std::uint32_t>(members.size()));
    put32(out, static_cast<std::uint32_t>(central.size())); put32(out, cdOffset); put16(out, 0);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::vector<std::uint8_t> input(data, data + size);

    exercise(TorchCheckpoint::fromBytes(input, "fuzz-input"));

    {
        pickle::PickleGraph graph;
        pickle::UnpickleOptions opt;
        opt.where = "fuzz-pickle";
        opt.persistentLoad = [](pickle::PickleGraph& g, pickle::Ref pid) -> kiln::Result<pickle::Ref> {
            if (g.at(pid).kind == pickle::Kind::None) return kiln::makeError("no storage");
            pickle::StorageInfo s;
            s.dtype = DType::F32;
            s.typeName = "FloatStorage";
            s.key = "0";
            s.numel = 4;
            return g.makeStorage(s);
        };
        std::size_t pos = 0;
        for (int i = 0; i < 6 && pos < input.size(); ++i) {
            auto root = pickle::unpickle(graph, input, pos, opt);
            if (!root) break;
            volatile std::size_t n = graph.describe(root.value()).size();
            (void)n;
        }
    }

    std::vector<std::uint8_t> storage(256);
    for (std::size_t i = 0; i < storage.size(); ++i) storage[i] = static_cast<std::uint8_t>(i * 37);
    exercise(TorchCheckpoint::fromBytes(
        storedZip({{"archive/data.pkl", input}, {"archive/data/0", storage}, {"archive/data/1", {}}, {"archive/version", {'3', '\n'}}}),
        "fuzz-zip"));
    return 0;
}
