#include "diffusion/ldm_keys_unet.h"

#include <algorithm>
#include <set>
#include <utility>

namespace kiln::diffusion {

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;  // (diffusers, ldm without prefix)

void addWeightBias(Pairs& out, const std::string& name, const std::string& ldm)
{
    out.emplace_back(name + ".weight", ldm + ".weight");
    out.emplace_back(name + ".bias", ldm + ".bias");
}

void addResnet(Pairs& out, const std::string& name, const std::string& ldm, int64_t in, int64_t outChannels)
{
    addWeightBias(out, name + ".norm1", ldm + ".in_layers.0");
    addWeightBias(out, name + ".conv1", ldm + ".in_layers.2");
    addWeightBias(out, name + ".time_emb_proj", ldm + ".emb_layers.1");
    addWeightBias(out, name + ".norm2", ldm + ".out_layers.0");
    addWeightBias(out, name + ".conv2", ldm + ".out_layers.3");
    if (in != outChannels)
        addWeightBias(out, name + ".conv_shortcut", ldm + ".skip_connection");
}

// A SpatialTransformer's inner names are the same in both layouts.
void addTransformer(Pairs& out, const std::string& name, const std::string& ldm)
{
    std::vector<std::string> suffixes;
    auto wb = [&](const std::string& s) {
        suffixes.push_back(s + ".weight");
        suffixes.push_back(s + ".bias");
    };
    wb("norm");
    wb("proj_in");
    const std::string block = "transformer_blocks.0.";
    for (const char* attn : {"attn1", "attn2"}) {
        for (const char* proj : {"to_q", "to_k", "to_v"})
            suffixes.push_back(block + attn + "." + proj + ".weight");
        wb(block + attn + ".to_out.0");
    }
    wb(block + "norm1");
    wb(block + "norm2");
    wb(block + "norm3");
    wb(block + "ff.net.0.proj");
    wb(block + "ff.net.2");
    wb("proj_out");
    for (const auto& s : suffixes)
        out.emplace_back(name + "." + s, ldm + "." + s);
}

Result<Pairs> unetPairs(const UNetConfig& c)
{
    if (auto ok = validateUNetConfig(c); !ok)
        return ok.error();
    const auto& ch = c.blockOutChannels;
    const int64_t n = static_cast<int64_t>(ch.size()), layers = c.layersPerBlock;
    auto at = [&](int64_t i) { return ch[static_cast<size_t>(i)]; };
    auto s = [](int64_t v) { return std::to_string(v); };
    Pairs out;

    addWeightBias(out, "conv_in", "input_blocks.0.0");
    addWeightBias(out, "time_embedding.linear_1", "time_embed.0");
    addWeightBias(out, "time_embedding.linear_2", "time_embed.2");

    for (int64_t i = 0; i < n; ++i) {
        const bool attn = c.downBlockTypes[static_cast<size_t>(i)] == "CrossAttnDownBlock2D";
        const std::string block = "down_blocks." + s(i);
        for (int64_t j = 0; j < layers; ++j) {
            const std::string ldm = "input_blocks." + s(1 + i * (layers + 1) + j);
            const int64_t in = j > 0 ? at(i) : at(std::max<int64_t>(i - 1, 0));
            addResnet(out, block + ".resnets." + s(j), ldm + ".0", in, at(i));
            if (attn)
                addTransformer(out, block + ".attentions." + s(j), ldm + ".1");
        }
        if (i < n - 1)
            addWeightBias(out, block + ".downsamplers.0.conv", "input_blocks." + s((i + 1) * (layers + 1)) + ".0.op");
    }

    addResnet(out, "mid_block.resnets.0", "middle_block.0", ch.back(), ch.back());
    addTransformer(out, "mid_block.attentions.0", "middle_block.1");
    addResnet(out, "mid_block.resnets.1", "middle_block.2", ch.back(), ch.back());

    int64_t outCh = at(n - 1);
    for (int64_t i = 0; i < n; ++i) {
        const bool attn = c.upBlockTypes[static_cast<size_t>(i)] == "CrossAttnUpBlock2D";
        const std::string block = "up_blocks." + s(i);
        const int64_t prev = outCh;
        outCh = at(n - 1 - i);
        const int64_t in = at(std::max<int64_t>(n - 2 - i, 0));
        for (int64_t j = 0; j <= layers; ++j) {
            const std::string ldm = "output_blocks." + s(i * (layers + 1) + j);
            const int64_t resnetIn = (j == 0 ? prev : outCh) + (j == layers ? in : outCh);
            addResnet(out, block + ".resnets." + s(j), ldm + ".0", resnetIn, outCh);
            if (attn)
                addTransformer(out, block + ".attentions." + s(j), ldm + ".1");
        }
        if (i < n - 1)
            addWeightBias(out, block + ".upsamplers.0.conv",
                "output_blocks." + s(i * (layers + 1) + layers) + (attn ? ".2" : ".1") + ".conv");
    }

    addWeightBias(out, "conv_norm_out", "out.0");
    addWeightBias(out, "conv_out", "out.2");
    return out;
}

}  // namespace

Result<std::vector<std::string>> unetParameterNames(const UNetConfig& config)
{
    auto pairs = unetPairs(config);
    if (!pairs)
        return pairs.error();
    std::vector<std::string> names;
    names.reserve(pairs->size());
    for (const auto& [name, ldm] : *pairs)
        names.push_back(name);
    return names;
}

Result<std::map<std::string, std::string>> ldmToDiffusersUnetKeys(const UNetConfig& config)
{
    auto pairs = unetPairs(config);
    if (!pairs)
        return pairs.error();
    std::map<std::string, std::string> map;
    std::set<std::string> ldmNames;
    for (const auto& [name, ldm] : *pairs) {
        // Both sides are generated from disjoint index ranges; a repeat would be a bug here, not bad input.
        if (!map.emplace(name, kLdmUnetPrefix + ldm).second || !ldmNames.insert(ldm).second)
            return makeError("internal error: UNet key '" + name + "' / '" + ldm + "' mapped twice", "ldm_keys_unet");
    }
    return map;
}

}  // namespace kiln::diffusion
