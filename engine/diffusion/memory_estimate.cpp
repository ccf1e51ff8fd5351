#include "diffusion/memory_estimate.h"


#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace kiln::diffusion {

namespace {

constexpr std::uint64_t kFloat = 4;
// Calibrated against bench_sd's peak RSS for SD 1.5 at 512x512 (BENCHMARKS.md): the UNet steps added
// 450-760 MiB to the loaded model, the VAE decode 1.1-1.2 GiB. Counting 30 tensors of the largest
// level's size for the UNet's transients (hidden states, norms, q/k/v, GEGLU's 8x-wide projection,
// allocator slack) and two of the last decoder level's input width plus four of its output width
// reproduces those figures.
constexpr std::uint64_t kTransientTensors = 30;
constexpr std::uint64_t kQueryRows = 256;
const std::uint64_t threads = std::max(1u, std::thread::hardware_concurrency());

std::uint64_t unetWorkingBytes(const UNetConfig& c, std::int64_t latentH, std::int64_t latentW, std::int64_t batch)
{
    const std::uint64_t n = static_cast<std::uint64_t>(2 * batch);  // uncond + cond
    std::uint64_t skips = 0, widest = 0, scores = 0;
    std::int64_t h = latentH, w = latentW;
    skips += static_cast<std::uint64_t>(c.blockOutChannels.front() * h * w);  // conv_in
    for (std::size_t level = 0; level < c.blockOutChannels.size(); ++level) {
        const auto ch = static_cast<std::uint64_t>(c.blockOutChannels[level]);
        const auto area = static_cast<std::uint64_t>(h * w);
        skips += static_cast<std::uint64_t>(c.layersPerBlock) * ch * area;
        widest = std::max(widest, ch * area);
        if (c.downBlockTypes[level].rfind("CrossAttn", 0) == 0) {
            // headsAttention: per thread, one head's scores for kQueryRows query rows at a time
            const std::uint64_t full = n * static_cast<std::uint64_t>(c.attentionHeads) * area * area * kFloat;
            scores = std::max(scores, std::min<std::uint64_t>(full, threads * kQueryRows * area * kFloat));
        }
        if (level + 1 < c.blockOutChannels.size()) {
            h = (h + 1) / 2;
            w = (w + 1) / 2;
            skips += ch * static_cast<std::uint64_t>(h * w);  // the downsampler's output
        }
    }
    return n * (skips + kTransientTensors * widest) * kFloat + scores;
}

std::uint64_t vaeWorkingBytes(const VaeConfig& c, int width, int height, std::int64_t batch, bool encodes)
{
    const std::int64_t scale = c.downscale();
    const VaeTiling tiling;
    // decodeTiled decodes one tile of the latent at a time once the latent is larger than a tile
    const std::int64_t tileH = std::min<std::int64_t>(height / scale, tiling.tileLatent);
    const std::int64_t tileW = std::min<std::int64_t>(width / scale, tiling.tileLatent);
    const auto tileArea = static_cast<std::uint64_t>(tileH * scale * tileW * scale);
    const auto first = static_cast<std::uint64_t>(c.blockOutChannels.front());
    const auto second = static_cast<std::uint64_t>(c.blockOutChannels.size() > 1 ? c.blockOutChannels[1] : first);
    // the mid block's single-head attention over every latent pixel, in query chunks per thread
    const auto tileTokens = static_cast<std::uint64_t>(tileH * tileW);
    const std::uint64_t decode = static_cast<std::uint64_t>(batch) *
                                 (tileArea * (2 * second + 4 * first) * kFloat + threads * kQueryRows * tileTokens * kFloat);
    if (!encodes) return decode;
    // img2img and inpainting models encode one image, whole (no tiles)
    const auto imageArea = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
    const auto tokens = static_cast<std::uint64_t>(height / scale) * static_cast<std::uint64_t>(width / scale);
    const std::uint64_t encode = imageArea * (4 * first) * kFloat + threads * kQueryRows * tokens * kFloat;
    return std::max(decode, encode);
}

}  // namespace

std::uint64_t MemoryEstimate::total() const { return std::max(unetBytes, vaeBytes) + otherBytes; }

MemoryEstimate estimateGenerationMemory(const UNetConfig& unet, const VaeConfig& vae, std::uint64_t widenedWeightBytes,
                                        int width, int height, int batch, bool encodes)
{
    MemoryEstimate e;
    const std::int64_t scale = vae.downscale();
    const std::int64_t h = height / scale, w = width / scale;
    e.unetBytes = unetWorkingBytes(unet, h, w, batch) + 2 * widenedWeightBytes;  // WideningScratch's two buffers
    e.vaeBytes = vaeWorkingBytes(vae, width, height, batch, encodes);
    const auto latent = static_cast<std::uint64_t>(batch * unet.inChannels * h * w) * kFloat;
    const auto image = static_cast<std::uint64_t>(batch) * static_cast<std::uint64_t>(width) *
                       static_cast<std::uint64_t>(height) * 3;
    e.otherBytes = 12 * latent + image * (3 * kFloat + 1);
    return e;
}

MemoryEstimate estimateGenerationMemory(const StableDiffusionModel& model, int width, int height, int batch,
                                        bool fromImage)
{
    std::uint64_t widened = 0;
    for (const auto& p : model.unet->parameters())
        if (p.scalar_type() != torch::kFloat32) widened = std::max<std::uint64_t>(widened, p.numel() * kFloat);
    const bool inpaintingModel = model.unet->config().inChannels != model.vae->config().latentChannels;
    return estimateGenerationMemory(model.unet->config(), model.vae->config(), widened, width, height, batch,
                                    fromImage || inpaintingModel);
}

std::optional<std::uint64_t> availableMemoryBytes()
{
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("MemAvailable:", 0) != 0) continue;
        std::istringstream fields(line.substr(13));
        std::uint64_t kib = 0;
        if (fields >> kib) return kib * 1024;
    }
    return std::nullopt;
}

std::string formatBytes(std::uint64_t bytes)
{
    char buf[32];
    if (bytes >= (std::uint64_t{1} << 30))
        std::snprintf(buf, sizeof buf, "%.1f GB", static_cast<double>(bytes) / double(1 << 30));
    else
        std::snprintf(buf, sizeof buf, "%.0f MB", static_cast<double>(bytes) / double(1 << 20));
    return buf;
}

std::uint64_t usableMemory(std::uint64_t available)
{
    const std::uint64_t margin = std::max<std::uint64_t>(available / 10, std::uint64_t{512} << 20);
    return available > margin ? available - margin : 0;
}

Result<void> checkFitsInMemory(const MemoryEstimate& estimate, std::uint64_t available, int width, int height,
                               int batch)
{
    if (estimate.total() <= usableMemory(available)) return success();
    return makeError("not enough memory: " + std::to_string(width) + "x" + std::to_string(height) + " with batch " +
                         std::to_string(batch) + " needs about " + formatBytes(estimate.total()) + " (UNet " +
                         formatBytes(estimate.unetBytes) + ", VAE " + formatBytes(estimate.vaeBytes) + ") and " +
                         formatBytes(available) + " is available",
                     {}, "lower the size or the batch, or close other programs");
}

}  // namespace kiln::diffusion
