// Training a designed graph: the one call the studio and kiln-cli make. std types only; the
// graph is compiled on the engine thread, inside the job.
#pragma once

#include "kiln/graph.h"
#include "kiln/job.h"
#include "kiln/train_config.h"
#include "kiln/train_run.h"

namespace kiln::train {

// A job body that compiles `graph`, takes the loss from its loss node, loads config.data and
// trains. Fails with a message naming the node when the graph does not compile, or saying what
// to add when it has no loss node.
JobBody makeGraphTrainJob(graph::Graph graph, TrainConfig config, TrainHooks hooks = {});

}  // namespace kiln::train
