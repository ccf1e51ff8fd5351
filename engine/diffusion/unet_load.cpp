#include "diffusion/unet_load.h"

#include "diffusion/ldm_keys_unet.h"
#include "io/safetensors_torch.h"

#include <torch/torch.h>

#include <exception>
#include <set>
#include <sstream>

namespace kiln::diffusion {

namespace {

constexpr const char* kDiffusersConvIn = "conv_in.weight";

std::string ldmConvIn()
{
    // Appending (rather than string + literal) avoids a GCC 12 -Warray-bounds false positive.
    std::string name = kLdmUnetPrefix;
    name.append("input_blocks.0.0.weight");
    return name;
}

std::string shapeText(const std::vector<int64_t>& shape)
{
    std::ostringstream s;
    s << '[';
    for (size_t i = 0; i < shape.size(); ++i)
        s << (i ? ", " : "") << shape[i];
    s << ']';
    return s.str();
}

// A diffusers file holds only the UNet; in a single file only the LDM prefix marks UNet tensors.
bool isUNetTensor(const std::string& name, UNetLayout layout)
{
    return layout == UNetLayout::Diffusers || name.rfind(kLdmUnetPrefix, 0) == 0;
}

}  // namespace

Result<UNetLayout> detectUNetLayout(const io::SafetensorsFile& file)
{
    if (file.index().find(kDiffusersConvIn))
        return UNetLayout::Diffusers;
    if (file.index().find(ldmConvIn()))
        return UNetLayout::Ldm;
    return makeError("no Stable Diffusion UNet found (neither conv_in.weight nor " + ldmConvIn() + ")", file.path(),
        "choose an SD 1.x checkpoint or a diffusers unet/ weights file");
}

Result<UNetConfig> detectUNetConfig(const io::SafetensorsFile& file)
{
    auto layout = detectUNetLayout(file);
    if (!layout)
        return layout.error();
    const auto* convIn = file.index().find(*layout == UNetLayout::Diffusers ? kDiffusersConvIn : ldmConvIn());
    auto in = unetInChannelsFromConvIn(convIn->shape);
    if (!in)
        return Error{in.error().what, file.path() + ": " + convIn->name, in.error().hint};
    return UNetConfig::sd15(*in);
}

Result<UNetLoadReport> loadUNetWeights(UNet2DConditionModel& unet, const io::SafetensorsFile& file)
{
    auto layout = detectUNetLayout(file);
    if (!layout)
        return layout.error();
    UNetLoadReport report;
    report.layout = *layout;
    std::map<std::string, std::string> fileNames;  // module name -> file name
    if (*layout == UNetLayout::Ldm) {
        auto keys = ldmToDiffusersUnetKeys(unet->config());
        if (!keys)
            return keys.error();
        fileNames = std::move(*keys);
    }

    try {
        torch::NoGradGuard noGrad;
        std::set<std::string> used;
        for (auto& item : unet->named_parameters()) {
            const auto& name = item.key();
            auto& param = item.value();
            auto it = fileNames.find(name);
            const std::string fileName = *layout == UNetLayout::Ldm ? (it == fileNames.end() ? "" : it->second) : name;
            const auto* entry = fileName.empty() ? nullptr : file.index().find(fileName);
            if (!entry) {
                report.missing.push_back(name);
                continue;
            }
            used.insert(fileName);
            if (entry->shape != param.sizes().vec()) {
                report.mismatched.push_back(name + ": file " + shapeText(entry->shape) + " vs module "
                    + shapeText(param.sizes().vec()));
                continue;
            }
            auto tensor = io::loadTensor(file, *entry, param.scalar_type());
            if (!tensor)
                return tensor.error();
            param.copy_(*tensor);
            ++report.applied;
        }
        for (const auto& entry : file.index().tensors)
            if (isUNetTensor(entry.name, *layout) && !used.count(entry.name))
                report.unused.push_back(entry.name);
    } catch (const std::exception& e) {
        return makeError(std::string("could not load the UNet weights: ") + e.what(), file.path());
    }
    if (report.applied == 0)
        return makeError("none of the UNet's weights matched the file", file.path(),
            "the file may be for a different model (SD 2.x, SDXL)");
    return report;
}

}  // namespace kiln::diffusion
