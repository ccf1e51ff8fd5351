// Tensor shapes with a symbolic batch dimension B, as shape inference computes them and the
// editor draws them on edges ("[B, 64, 14, 14]").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::graph {

// One dimension: a number, or a multiple of the batch size B. Multiples other than 1 appear
// only when an op folds the batch into another dimension (Flatten from dimension 0).
struct Dim {
    std::int64_t size = 0;  // the size, or the multiplier of B when batch is set
    bool batch = false;
    // How the size came about, for messages ("64×7×7" after a Flatten). Not part of equality.
    std::string origin;

    static Dim of(std::int64_t n, std::string origin = {}) { return Dim{n, false, std::move(origin)}; }
    static Dim batchOf(std::int64_t multiple = 1) { return Dim{multiple, true, {}}; }

    bool known() const { return !batch; }  // a plain number
    bool operator==(const Dim& o) const { return size == o.size && batch == o.batch; }
};

enum class ElementType { Float, Int64 };

struct Shape {
    std::vector<Dim> dims;
    ElementType element = ElementType::Float;
    // For Int64 token tensors: the number of distinct ids (values lie in [0, vocab)); 0 when
    // unknown. Lets an Embedding check that it has a row for every token.
    std::int64_t vocab = 0;

    std::size_t rank() const { return dims.size(); }
    // Elements per sample: the product of the sizes with B = 1.
    std::int64_t perSample() const;
    // Sizes with B replaced by `batch`, as torch would report them.
    std::vector<std::int64_t> concrete(std::int64_t batch) const;

    bool operator==(const Shape& o) const { return dims == o.dims && element == o.element; }
};

std::string formatDim(const Dim& d);      // 64, B, B×4
std::string formatShape(const Shape& s);  // [B, 64, 14, 14]

}  // namespace kiln::graph
