#pragma once

// kiln-cli run GRAPH.kgraph --device ... : inference over a dataset; returns the exit code.
int runRunCommand(int argc, char** argv);
