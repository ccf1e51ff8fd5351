// kiln-cli: Kiln's engine from a terminal.
#include "kiln/system_info.h"
#include "kiln/weights.h"
#include "cli/export_command.h"
#include "cli/generate_command.h"
#include "cli/run_command.h"
#include "cli/train_command.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr const char* kUsage = R"(usage: kiln-cli <command> [arguments]

commands:
  devices          compute devices, threads and the BLAS LibTorch uses
  inspect FILE     the tensors (name, dtype, shape) and metadata of a .safetensors
                   file or a PyTorch checkpoint (.ckpt, .pt, .pth)
  export GRAPH.kgraph [--weights CKPT.safetensors] [--py OUT.py] [--onnx OUT.onnx]
                   [--safetensors OUT.safetensors]
                   the graph as PyTorch code, its weights as safetensors, ONNX
  train GRAPH      train a designed graph (.kgraph) with live progress; see train --help
  run GRAPH        run a graph over a dataset on the CPU or Vulkan (--device vulkan);
                   accuracy, items/s and the difference from LibTorch; see run --help
  generate --model PATH --prompt TEXT --out DIR
                   Stable Diffusion 1.x text-to-image into PNGs with A1111's parameters;
                   see generate --help
  --version        Kiln's version
  --help           this text
)";

int fail(const std::string& message)
{
    // One line, so scripts and people see exactly what went wrong.
    std::string line = message;
    std::replace(line.begin(), line.end(), '\n', ' ');
    std::fprintf(stderr, "kiln-cli: error: %s\n", line.c_str());
    return 1;
}

int devices()
{
    for (const auto& line : kiln::describeSystem(kiln::probeSystem())) std::printf("%s\n", line.c_str());
    return 0;
}

int inspect(const std::string& path)
{
    auto r = kiln::inspectWeights(path);
    if (!r) return fail(r.error().message());
    const auto& s = *r;
    std::printf("%s\n", s.path.c_str());
    std::printf("format:   %s\n", s.format.c_str());
    std::printf("file:     %s\n", kiln::formatBytes(s.fileBytes).c_str());
    std::printf("tensors:  %zu (%s elements, %s)\n", s.tensors.size(), kiln::formatCount(s.totalElements()).c_str(),
                kiln::formatBytes(s.totalBytes()).c_str());
    if (!s.metadata.empty()) {
        std::printf("metadata:\n");
        for (const auto& [k, v] : s.metadata) {
            std::string value = v.size() > 200 ? v.substr(0, 200) + "…" : v;
            std::replace(value.begin(), value.end(), '\n', ' ');
            std::printf("  %s: %s\n", k.c_str(), value.c_str());
        }
    }
    std::size_t width = 6;
    for (const auto& t : s.tensors) width = std::max(width, t.name.size());
    std::printf("\n%-*s  %-7s  %s\n", static_cast<int>(width), "tensor", "dtype", "shape");
    for (const auto& t : s.tensors)
        std::printf("%-*s  %-7s  %s\n", static_cast<int>(width), t.name.c_str(), t.dtype.c_str(),
                    kiln::formatShape(t.shape).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    kiln::ensurePassiveOpenMP(argv);
    kiln::keepFreedMemoryForReuse();
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    const std::string cmd = argv[1];
    if (cmd == "--version" || cmd == "version") {
        std::printf("kiln-cli %s\n", KILN_VERSION);
        return 0;
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (cmd == "devices") return devices();
    if (cmd == "train") return runTrainCommand(argc, argv);
    if (cmd == "run") return runRunCommand(argc, argv);
    if (cmd == "generate") return runGenerateCommand(argc, argv);
    if (cmd == "export") return kiln::cli::exportCommand(argc - 2, argv + 2);
    if (cmd == "inspect") {
        if (argc != 3) return fail("inspect takes one file: kiln-cli inspect FILE");
        return inspect(argv[2]);
    }
    return fail("unknown command '" + cmd + "' (try kiln-cli --help)");
}
