// A compute pipeline built from SPIR-V words embedded at build time (kiln_add_shaders).
#pragma once

#include "kiln/result.h"
#include "vulkan/context.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace kiln::vk {

// Bindings 0..bindings-1 of set 0 are storage buffers, in the order dispatch() receives them;
// one push-constant range of pushConstantBytes at offset 0 (0: none).
struct PipelineLayoutSpec {
    std::uint32_t bindings = 0;
    std::uint32_t pushConstantBytes = 0;
};

class ComputePipeline {
public:
    // `op` names the op in every error ("add"), so a failing shader is found at once.
    // The pipeline holds the raw device: Context's pipeline cache owns it and frees it before
    // the device, so it must not be kept outside that cache.
    static Result<std::unique_ptr<ComputePipeline>> create(const Context& ctx, std::string op,
                                                           std::span<const std::uint32_t> spirv,
                                                           PipelineLayoutSpec spec);
    ~ComputePipeline();
    ComputePipeline(const ComputePipeline&) = delete;
    ComputePipeline& operator=(const ComputePipeline&) = delete;

    VkPipeline handle() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout setLayout() const { return set_layout_; }
    const std::string& op() const { return op_; }
    std::uint32_t bindings() const { return spec_.bindings; }
    std::uint32_t pushConstantBytes() const { return spec_.pushConstantBytes; }

private:
    ComputePipeline() = default;

    VkDevice device_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
    std::string op_;
    PipelineLayoutSpec spec_;
};

}  // namespace kiln::vk
