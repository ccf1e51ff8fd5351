#pragma once

// kiln-cli train GRAPH.kgraph --data ... : returns the process exit code.
int runTrainCommand(int argc, char** argv);
