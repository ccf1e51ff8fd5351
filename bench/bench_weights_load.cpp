// Loading weights into fp32 tensors: Kiln (its own checkpoint reader, and safetensors) against
// PyTorch's torch.load in Debian's python3-torch, on the same file in the same run.
// Usage: bench_weights_load [MEGABYTES=256]     (needs /usr/bin/python3 with torch for the peer)
#include "io/checkpoint_torch.h"
#include "io/safetensors_torch.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <torch/torch.h>

namespace {

double seconds(std::chrono::steady_clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}

template <typename F>
double best(int runs, F&& f)  // the page cache is warm after the first run; report the best
{
    double b = 1e30;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        b = std::min(b, seconds(std::chrono::steady_clock::now() - t0));
    }
    return b;
}

std::string run(const std::string& cmd)
{
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
}

}  // namespace

int main(int argc, char** argv)
{
    const int mb = argc > 1 ? std::atoi(argv[1]) : 256;
    const auto dir = std::filesystem::temp_directory_path() / "kiln-bench-weights";
    std::filesystem::create_directories(dir);
    const std::string pt = (dir / "weights.pt").string(), st = (dir / "weights.safetensors").string();

    // The peer writes the checkpoint: fp16 tensors shaped like a UNet's convolutions and projections.
    const std::string make = "/usr/bin/python3 -c \"import torch; torch.manual_seed(0); n=" + std::to_string(mb) +
                             "*1024*1024//2; d={}; i=0\n"
                             "while n>0:\n"
                             "  s=[320,320,3,3] if i%3==0 else [1280,320] if i%3==1 else [320]\n"
                             "  t=torch.randn(s).half(); d['down.%d.weight'%i]=t; n-=t.numel(); i+=1\n"
                             "torch.save(d,'" + pt + "')\"";
    if (std::system(make.c_str()) != 0) {
        std::fprintf(stderr, "the peer (/usr/bin/python3 with torch) is not available\n");
        return 1;
    }
    auto ckpt = kiln::io::TorchCheckpoint::open(pt);
    if (!ckpt) {
        std::fprintf(stderr, "%s\n", ckpt.error().message().c_str());
        return 1;
    }
    kiln::io::NamedTensors all;
    for (const auto& t : ckpt->tensors()) all.emplace_back(t.name, *kiln::io::toTorch(*ckpt, t));
    if (auto r = kiln::io::saveSafetensors(st, all); !r) {
        std::fprintf(stderr, "%s\n", r.error().message().c_str());
        return 1;
    }
    all.clear();

    double sink = 0;
    const double kilnPt = best(3, [&] {
        auto c = kiln::io::TorchCheckpoint::open(pt);
        for (const auto& t : c->tensors()) sink += kiln::io::toTorch(*c, t)->to(torch::kFloat32).numel();
    });
    const double kilnSt = best(3, [&] {
        auto f = kiln::io::SafetensorsFile::open(st);
        for (const auto& e : f->index().tensors) sink += kiln::io::loadTensor(*f, e, torch::kFloat32)->numel();
    });
    const std::string peer = run("/usr/bin/python3 -c \"import torch,time\nb=1e9\nfor _ in range(3):\n"
                                 "  t=time.perf_counter(); d=torch.load('" + pt + "',map_location='cpu')\n"
                                 "  s=sum(v.float().numel() for v in d.values()); b=min(b,time.perf_counter()-t)\n"
                                 "print(b)\"");
    const double torchPt = std::atof(peer.c_str());
    std::printf("weights: %d MiB of fp16 in %zu tensors, loaded into fp32 (best of 3, warm page cache)\n", mb,
                ckpt->tensors().size());
    std::printf("  PyTorch torch.load(.pt) + .float()   %7.3f s\n", torchPt);
    std::printf("  Kiln checkpoint reader (.pt)          %7.3f s   ratio %.2fx\n", kilnPt, torchPt / kilnPt);
    std::printf("  Kiln safetensors (.safetensors)       %7.3f s   ratio %.2fx\n", kilnSt, torchPt / kilnSt);
    std::printf("(ratio = PyTorch time / Kiln time; > 1 means Kiln is faster)  [%g]\n", sink > 0 ? 1.0 : 0.0);
    std::filesystem::remove_all(dir);
    return 0;
}
