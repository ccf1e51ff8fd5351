// Input nodes: where a batch enters the graph. The node's name is the input's name; the batch
// dimension B stays symbolic until a real batch arrives.
#include "graph/ops_common.h"

namespace kiln::graph::ops {

void addInputNodes(NodeRegistry& r)
{
    mustAdd(r, NodeType{
        .id = "node.input_image",
        .category = "Input",
        .displayName = "Image input",
        .nameStem = "image",
        .description = "A batch of images [B, C, H, W] with values as floats (e.g. 1×28×28 for Fashion-MNIST).",
        .inputs = {},
        .outputs = {output("out", "images [B, C, H, W]")},
        .params = {intParam("channels", 1, 1, 4096, "C: 1 for grey, 3 for RGB"),
                   intParam("height", 28, 1, 16384, "H in pixels"),
                   intParam("width", 28, 1, 16384, "W in pixels")},
        .role = NodeRole::Input,
        .infer = [](const InferContext& c) -> Result<InferResult> {
            InferResult r;
            r.outputs.push_back(Shape{{Dim::batchOf(), Dim::of(c.params.i("channels")), Dim::of(c.params.i("height")),
                                       Dim::of(c.params.i("width"))}});
            return r;
        },
    });

    mustAdd(r, NodeType{
        .id = "node.input_tokens",
        .category = "Input",
        .displayName = "Token input",
        .nameStem = "tokens",
        .description = "A batch of token id sequences [B, T] (int64), each id below vocab. Shorter sequences "
                       "are accepted at run time (text generation); length is the training context.",
        .inputs = {},
        .outputs = {output("out", "token ids [B, T]")},
        .params = {intParam("vocab", 128, 1, 1e9, "number of distinct tokens (ids 0 .. vocab-1)"),
                   intParam("length", 64, 1, 1e7, "T: tokens per sequence")},
        .role = NodeRole::Input,
        .infer = [](const InferContext& c) -> Result<InferResult> {
            InferResult r;
            Shape s{{Dim::batchOf(), Dim::of(c.params.i("length"))}, ElementType::Int64, c.params.i("vocab")};
            r.outputs.push_back(std::move(s));
            return r;
        },
    });

    mustAdd(r, NodeType{
        .id = "node.input_tensor",
        .category = "Input",
        .displayName = "Tensor input",
        .nameStem = "input",
        .description = "A batch of float tensors [B, ...shape] of any layout.",
        .inputs = {},
        .outputs = {output("out", "[B, ...shape]")},
        .params = {listParam("shape", {16}, 1, 1e9, "the size of each sample, without the batch dimension")},
        .role = NodeRole::Input,
        .infer = [](const InferContext& c) -> Result<InferResult> {
            InferResult r;
            Shape s{{Dim::batchOf()}};
            for (auto n : c.params.list("shape")) s.dims.push_back(Dim::of(n));
            r.outputs.push_back(std::move(s));
            return r;
        },
    });
}

}  // namespace kiln::graph::ops
