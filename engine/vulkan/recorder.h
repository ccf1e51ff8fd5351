// Records many dispatches, uploads and downloads into one command buffer and runs them with one
// submit: what a forward pass needs. Barriers go in only where a command touches memory that a
// command since the last barrier wrote (read after write, write after write) or read (write after
// read), so independent dispatches run together.
//
//   auto rec = Recorder::create(ctx);
//   rec->upload(x.region(), hostInput);
//   conv2dVulkan(*rec, ...); reluVulkan(*rec, ...);       // ops record, they do not run
//   rec->download(y.region(), hostOutput);
//   rec->submit();                                         // runs all, waits, fills hostOutput
//
// Not thread-safe; belongs to the thread that owns the Context (the engine thread).
#pragma once

#include "kiln/result.h"
#include "vulkan/context.h"
#include "vulkan/dispatch.h"
#include "vulkan/memory.h"
#include "vulkan/pipeline.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::vk {

struct Binding {
    Region region;
    bool written = false;
};
inline Binding in(const Region& r) { return {r, false}; }
inline Binding out(const Region& r) { return {r, true}; }

// Time on the GPU per recorded dispatch, from timestamp queries (when profiling is on).
struct DispatchTiming {
    std::string label;
    double ms = 0;
};

struct RecorderStats {
    std::size_t dispatches = 0;  // since the last submit
    std::size_t barriers = 0;
    std::size_t submits = 0;     // in the recorder's life
};

class Recorder {
public:
    // `profile` records a timestamp pair around each dispatch where the device supports it.
    static Result<std::unique_ptr<Recorder>> create(Context& ctx, bool profile = false);
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    Context& context() { return *ctx_; }

    // The pipeline for `op`, built once per Context from the embedded SPIR-V.
    Result<ComputePipeline*> pipeline(const std::string& op, std::span<const std::uint32_t> spirv,
                                      PipelineLayoutSpec spec);

    // Records one dispatch. Bindings go to 0.. in order; `push` must be exactly the pipeline's
    // push-constant size. An empty grid records nothing.
    Result<void> dispatch(const ComputePipeline& pipeline, std::span<const Binding> bindings,
                          std::span<const std::byte> push, Grid grid, std::string_view label = {});
    Result<void> dispatch(const ComputePipeline& pipeline, std::initializer_list<Binding> bindings,
                          std::span<const std::byte> push, Grid grid, std::string_view label = {})
    {
        return dispatch(pipeline, std::span<const Binding>(bindings.begin(), bindings.size()), push, grid, label);
    }

    // Copies `data` into `dst` at this point of the command stream (through staging memory).
    Result<void> upload(const Region& dst, std::span<const float> data) { return upload(dst, std::as_bytes(data)); }
    Result<void> upload(const Region& dst, std::span<const std::byte> data);
    // Copies `src` to `dst` when submit() completes; `dst` must stay valid until then.
    Result<void> download(const Region& src, std::span<float> dst);
    // Device-side copy of `bytes` from `src` to `dst`, both within their regions.
    Result<void> copy(const Region& src, const Region& dst);

    // Runs everything recorded, waits for it and completes the downloads. The recorder is empty
    // and reusable afterwards, also after an error. A timeout or device loss leaves the Context
    // unusable (it says why).
    Result<void> submit(std::chrono::milliseconds timeout = kDefaultFenceTimeout);

    bool empty() const { return stats_.dispatches == 0 && transfers_ == 0; }
    const RecorderStats& stats() const { return stats_; }
    // Timings of the last submit, in recording order; empty without profiling.
    const std::vector<DispatchTiming>& timings() const { return timings_; }

private:
    Recorder() = default;
    Result<void> begin();
    void track(std::span<const Binding> bindings);
    Result<VkDescriptorSet> allocateSet(const ComputePipeline& pipeline);
    Result<Allocation> staging(VkDeviceSize bytes, const std::string& label);
    void reset();

    std::shared_ptr<Context> ctx_;
    std::shared_ptr<MemoryPool> staging_;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    std::uint32_t queryCapacity_ = 0;
    std::vector<VkDescriptorPool> pools_;
    std::size_t pool_ = 0;  // the pool new sets come from
    bool recording_ = false;
    bool profile_ = false;

    std::vector<Region> readSinceBarrier_, writtenSinceBarrier_;
    struct PendingDownload {
        Allocation staging;
        std::span<float> dst;
    };
    std::vector<PendingDownload> downloads_;
    std::vector<Allocation> uploads_;  // staging kept alive until the submit completes
    std::vector<std::string> labels_;
    std::vector<DispatchTiming> timings_;
    std::size_t transfers_ = 0;
    RecorderStats stats_;
};

}  // namespace kiln::vk
