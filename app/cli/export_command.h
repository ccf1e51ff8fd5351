// `kiln-cli export GRAPH.kgraph [--weights CKPT.safetensors] [--py OUT.py] [--onnx OUT.onnx]
//  [--safetensors OUT.safetensors] [--class NAME]`
#pragma once

namespace kiln::cli {

// argv[0] is the graph path or the first option (everything after "export"). Returns the exit
// status: 0 done, 1 failed, 2 bad arguments.
int exportCommand(int argc, char** argv);

}  // namespace kiln::cli
