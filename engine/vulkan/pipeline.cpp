#include "vulkan/pipeline.h"

#include <exception>
#include <vector>

namespace kiln::vk {

namespace {

// The SPIR-V magic number, first word of every module: catches an empty or wrong include.
constexpr std::uint32_t kSpirvMagic = 0x07230203;

}  // namespace

Result<std::unique_ptr<ComputePipeline>> ComputePipeline::create(const Context& ctx, std::string op,
                                                                  std::span<const std::uint32_t> spirv,
                                                                  PipelineLayoutSpec spec)
{
    const std::string where = "Vulkan op " + op;
    try {
        if (auto usable = ctx.checkUsable(); !usable) return usable.error();
        if (spirv.size() < 5 || spirv[0] != kSpirvMagic)
            return makeError("the embedded shader is not SPIR-V", where, "rebuild Kiln; the shader build step failed");
        if (spec.pushConstantBytes > ctx.limits().maxPushConstantsSize || spec.pushConstantBytes % 4 != 0)
            return makeError("push constants of " + std::to_string(spec.pushConstantBytes) +
                                 " bytes are not allowed (device limit " +
                                 std::to_string(ctx.limits().maxPushConstantsSize) + ", multiple of 4)",
                             where);
        if (spec.bindings > ctx.limits().maxPerStageDescriptorStorageBuffers)
            return makeError("the shader needs " + std::to_string(spec.bindings) +
                                 " storage buffers; the device allows " +
                                 std::to_string(ctx.limits().maxPerStageDescriptorStorageBuffers),
                             where);

        std::unique_ptr<ComputePipeline> p(new ComputePipeline());
        p->device_ = ctx.device();
        p->op_ = std::move(op);
        p->spec_ = spec;

        std::vector<VkDescriptorSetLayoutBinding> bindings(spec.bindings);
        for (std::uint32_t i = 0; i < spec.bindings; ++i) {
            bindings[i].binding = i;
            bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            bindings[i].descriptorCount = 1;
            bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
        }
        VkDescriptorSetLayoutCreateInfo dl{};
        dl.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
        dl.bindingCount = spec.bindings;
        dl.pBindings = bindings.data();
        VkResult r = vkCreateDescriptorSetLayout(p->device_, &dl, nullptr, &p->set_layout_);
        if (r != VK_SUCCESS) {
            p->set_layout_ = VK_NULL_HANDLE;
            return vulkanError(r, "could not create the descriptor set layout", where);
        }

        VkPushConstantRange range{};
        range.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
        range.offset = 0;
        range.size = spec.pushConstantBytes;
        VkPipelineLayoutCreateInfo pl{};
        pl.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
        pl.setLayoutCount = 1;
        pl.pSetLayouts = &p->set_layout_;
        pl.pushConstantRangeCount = spec.pushConstantBytes ? 1 : 0;
        pl.pPushConstantRanges = spec.pushConstantBytes ? &range : nullptr;
        r = vkCreatePipelineLayout(p->device_, &pl, nullptr, &p->layout_);
        if (r != VK_SUCCESS) {
            p->layout_ = VK_NULL_HANDLE;
            return vulkanError(r, "could not create the pipeline layout", where);
        }

        VkShaderModuleCreateInfo sm{};
        sm.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
        sm.codeSize = spirv.size_bytes();
        sm.pCode = spirv.data();
        VkShaderModule module = VK_NULL_HANDLE;
        r = vkCreateShaderModule(p->device_, &sm, nullptr, &module);
        if (r != VK_SUCCESS) return vulkanError(r, "the driver rejected the shader module", where);

        VkComputePipelineCreateInfo ci{};
        ci.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
        ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
        ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
        ci.stage.module = module;
        ci.stage.pName = "main";
        ci.layout = p->layout_;
        r = vkCreateComputePipelines(p->device_, ctx.pipelineCache(), 1, &ci, nullptr, &p->pipeline_);
        // The module is only needed while the pipeline is compiled.
        vkDestroyShaderModule(p->device_, module, nullptr);
        if (r != VK_SUCCESS) {
            p->pipeline_ = VK_NULL_HANDLE;
            return vulkanError(r, "could not compile the compute pipeline", where);
        }
        return p;
    } catch (const std::exception& e) {
        return makeError(std::string("could not build the pipeline: ") + e.what(), where);
    }
}

ComputePipeline::~ComputePipeline()
{
    if (pipeline_) vkDestroyPipeline(device_, pipeline_, nullptr);
    if (layout_) vkDestroyPipelineLayout(device_, layout_, nullptr);
    if (set_layout_) vkDestroyDescriptorSetLayout(device_, set_layout_, nullptr);
}

}  // namespace kiln::vk
