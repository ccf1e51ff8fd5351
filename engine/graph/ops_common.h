// Shared pieces of the built-in node types (ops_*.cpp): schema builders, input checks that write
// the messages a person reads on a red node, and the per-family registration functions.
#pragma once

#include "kiln/graph_registry.h"

#include <optional>
#include <string>

namespace kiln::graph::ops {

void addInputNodes(NodeRegistry& r);
void addConvNodes(NodeRegistry& r);
void addLinearNodes(NodeRegistry& r);
void addAttentionNodes(NodeRegistry& r);
void addNormNodes(NodeRegistry& r);
void addActivationNodes(NodeRegistry& r);
void addTensorNodes(NodeRegistry& r);
void addLossNodes(NodeRegistry& r);

// Registration of a built-in cannot fail unless the table itself is wrong.
void mustAdd(NodeRegistry& r, NodeType t);

ParamSpec intParam(std::string name, std::int64_t def, std::optional<double> min, std::optional<double> max,
                   std::string help);
ParamSpec floatParam(std::string name, double def, std::optional<double> min, std::optional<double> max,
                     std::string help);
ParamSpec boolParam(std::string name, bool def, std::string help);
ParamSpec choiceParam(std::string name, std::string def, std::vector<std::string> choices, std::string help);
ParamSpec listParam(std::string name, IntList def, std::optional<double> min, std::optional<double> max,
                    std::string help);
PortSpec input(std::string name = "in", std::string help = {}, bool optional = false);
PortSpec output(std::string name = "out", std::string help = {});

// An error for the node being inferred (inferShapes fills `where`).
Error fail(std::string what, std::string hint = {});

// " from the Flatten before it"
std::string fromSource(const InferContext& c, std::size_t port);

// The input must have exactly `rank` dimensions, laid out as `layout` ("[B, C, H, W]").
Result<void> requireRank(const InferContext& c, std::size_t port, std::size_t rank, const char* layout,
                         const char* hint);
Result<void> requireMinRank(const InferContext& c, std::size_t port, std::size_t rank, const char* layout);
// Ops that compute need float tensors; token ids must go through an Embedding first.
Result<void> requireFloat(const InferContext& c, std::size_t port);
// Dimension `dim` of the input must be a known size (not a multiple of B).
Result<void> requireKnown(const InferContext& c, std::size_t port, std::size_t dim);
// Dimension `dim` of the input must equal the integer parameter `param`: "Linear expects
// in_features = 3136 (64×7×7 from the Flatten before it) but is set to 1024".
Result<void> requireParamMatches(const InferContext& c, std::size_t port, std::size_t dim, const char* param);

// Normalizes a possibly negative dimension index against `rank`; nullopt when out of range.
std::optional<std::size_t> normalizeDim(std::int64_t dim, std::size_t rank);

// A shape of the same element type as `like` with the given dims.
Shape withDims(const Shape& like, std::vector<Dim> dims);

// What a loss of `kind` expects as its target, given the prediction it gets.
Shape lossTarget(LossKind kind, const Shape& prediction);

// Elements per sample (B = 1) in floating point: exact for real tensors, and it cannot overflow
// on the absurd shapes a damaged file can ask for (inferShapes refuses those after each node).
double elements(const Shape& s);
inline constexpr double kMaxElements = 4398046511104.0;  // 2^42 values per sample

// An elementwise op: output shape = input shape; `flopsPerElement` per output element.
InferFn elementwise(double flopsPerElement);

}  // namespace kiln::graph::ops
