#include "diffusion/ldm_keys_clip_vae.h"

#include <optional>
#include <string_view>
#include <vector>

namespace kiln::diffusion {

namespace {

bool startsWith(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

std::vector<std::string> split(const std::string& key) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        const auto dot = key.find('.', start);
        parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) return parts;
        start = dot + 1;
    }
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += '.';
        out += p;
    }
    return out;
}

std::optional<int> index(const std::string& s) {
    if (s.empty() || s.size() > 4) return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

bool isParam(const std::string& s) {
    return s == "weight" || s == "bias";
}

// tail = {leaf, param} of a resnet: LDM's nin_shortcut is diffusers' conv_shortcut.
std::optional<std::string> resnetTail(const std::vector<std::string>& p, size_t at) {
    if (p.size() != at + 2 || !isParam(p[at + 1])) return std::nullopt;
    const auto& leaf = p[at];
    if (leaf == "nin_shortcut" || leaf == "conv_shortcut") return "conv_shortcut." + p[at + 1];
    if (leaf == "norm1" || leaf == "conv1" || leaf == "norm2" || leaf == "conv2") return leaf + "." + p[at + 1];
    return std::nullopt;
}

// tail of a mid-block attention in any of the three namings (LDM, diffusers < 0.14, current).
std::optional<std::string> attentionTail(const std::vector<std::string>& p, size_t at) {
    if (p.size() == at + 3 && p[at] == "to_out" && p[at + 1] == "0" && isParam(p[at + 2])) {
        return "to_out.0." + p[at + 2];
    }
    if (p.size() != at + 2 || !isParam(p[at + 1])) return std::nullopt;
    const auto& leaf = p[at];
    std::string renamed;
    if (leaf == "norm" || leaf == "group_norm") renamed = "group_norm";
    else if (leaf == "q" || leaf == "query" || leaf == "to_q") renamed = "to_q";
    else if (leaf == "k" || leaf == "key" || leaf == "to_k") renamed = "to_k";
    else if (leaf == "v" || leaf == "value" || leaf == "to_v") renamed = "to_v";
    else if (leaf == "proj_out" || leaf == "proj_attn") renamed = "to_out.0";
    else return std::nullopt;
    return renamed + "." + p[at + 1];
}

// p[0] is "encoder" or "decoder"; returns the diffusers name or nothing when the key is not one.
std::optional<std::string> vaeCoderKey(const std::vector<std::string>& p, int levels) {
    const auto& side = p[0];
    const bool decoder = side == "decoder";
    if (p.size() < 3) return std::nullopt;
    const auto& part = p[1];
    if ((part == "conv_in" || part == "conv_out" || part == "conv_norm_out") && p.size() == 3 && isParam(p[2])) {
        return join(p);
    }
    if (part == "norm_out" && p.size() == 3 && isParam(p[2])) return side + ".conv_norm_out." + p[2];

    // Levels: LDM's down.N / up.N, diffusers' down_blocks.N / up_blocks.N.
    const bool ldmLevel = part == (decoder ? "up" : "down");
    const bool diffusersLevel = part == (decoder ? "up_blocks" : "down_blocks");
    if (ldmLevel || diffusersLevel) {
        const auto n = index(p[2]);
        if (!n || *n >= levels || p.size() < 5) return std::nullopt;
        // LDM counts the decoder's levels from the lowest resolution, diffusers in the order they run.
        const int level = ldmLevel && decoder ? levels - 1 - *n : *n;
        const auto prefix = side + (decoder ? ".up_blocks." : ".down_blocks.") + std::to_string(level) + ".";
        const auto& kind = p[3];
        if (kind == "block" || kind == "resnets") {
            const auto m = index(p[4]);
            auto tail = resnetTail(p, 5);
            if (!m || !tail) return std::nullopt;
            return prefix + "resnets." + p[4] + "." + *tail;
        }
        const std::string resample = decoder ? "upsample" : "downsample";
        const std::string resamplers = decoder ? "upsamplers" : "downsamplers";
        if (kind == resample && p.size() == 6 && p[4] == "conv" && isParam(p[5])) {
            return prefix + resamplers + ".0.conv." + p[5];
        }
        if (kind == resamplers && p.size() == 7 && p[4] == "0" && p[5] == "conv" && isParam(p[6])) {
            return prefix + resamplers + ".0.conv." + p[6];
        }
        return std::nullopt;
    }

    const auto mid = side + ".mid_block.";
    if (part == "mid" && p.size() >= 4) {
        if (p[2] == "block_1" || p[2] == "block_2") {
            auto tail = resnetTail(p, 3);
            if (!tail) return std::nullopt;
            return mid + "resnets." + (p[2] == "block_1" ? "0." : "1.") + *tail;
        }
        if (p[2] == "attn_1") {
            auto tail = attentionTail(p, 3);
            if (!tail) return std::nullopt;
            return mid + "attentions.0." + *tail;
        }
        return std::nullopt;
    }
    if (part == "mid_block" && p.size() >= 5) {
        if (p[2] == "resnets" && (p[3] == "0" || p[3] == "1")) {
            auto tail = resnetTail(p, 4);
            if (!tail) return std::nullopt;
            return mid + "resnets." + p[3] + "." + *tail;
        }
        if (p[2] == "attentions" && p[3] == "0") {
            auto tail = attentionTail(p, 4);
            if (!tail) return std::nullopt;
            return mid + "attentions.0." + *tail;
        }
    }
    return std::nullopt;
}

}  // namespace

Result<std::string> ldmToDiffusersClipKey(const std::string& key) {
    constexpr std::string_view ldm = "cond_stage_model.transformer.";
    constexpr std::string_view textModel = "text_model.";
    std::string rest;
    if (startsWith(key, ldm)) {
        rest = key.substr(ldm.size());
        if (startsWith(rest, textModel)) rest = rest.substr(textModel.size());
    } else if (startsWith(key, textModel)) {
        rest = key.substr(textModel.size());
    } else if (startsWith(key, "cond_stage_model.model.")) {
        return makeError("this is an OpenCLIP (Stable Diffusion 2.x) text encoder key, not SD 1.x's CLIP", key,
                         "Use a Stable Diffusion 1.x checkpoint.");
    } else {
        return makeError("not a CLIP text encoder key", key);
    }
    // The transformers names hold inside; only the top-level parts are checked, so a layer index
    // outside the model shows up as an unused key in the load report rather than here.
    if (rest == "embeddings.position_ids") return std::string{};
    if (startsWith(rest, "embeddings.") || startsWith(rest, "encoder.layers.") ||
        startsWith(rest, "final_layer_norm.")) {
        return std::string(textModel) + rest;
    }
    return makeError("not a CLIP text encoder weight of SD 1.x", key);
}

Result<std::string> ldmToDiffusersVaeKey(const std::string& key, int levels) {
    constexpr std::string_view prefix = "first_stage_model.";
    const auto name = startsWith(key, prefix) ? key.substr(prefix.size()) : key;
    const auto p = split(name);
    std::optional<std::string> mapped;
    if ((p[0] == "quant_conv" || p[0] == "post_quant_conv") && p.size() == 2 && isParam(p[1])) {
        mapped = name;
    } else if (p[0] == "encoder" || p[0] == "decoder") {
        mapped = vaeCoderKey(p, levels);
    }
    if (!mapped) {
        return makeError("not a weight of the SD 1.x VAE (AutoencoderKL with " + std::to_string(levels) + " levels)",
                         key);
    }
    return *mapped;
}

bool isVaeAttentionProjection(const std::string& diffusersKey) {
    auto p = split(diffusersKey);
    if (p.size() < 6 || p[1] != "mid_block" || p[2] != "attentions") return false;
    const auto& leaf = p[4];
    return (leaf == "to_q" || leaf == "to_k" || leaf == "to_v" || leaf == "to_out") && p.back() == "weight";
}

}  // namespace kiln::diffusion
