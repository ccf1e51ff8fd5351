// A graph's loss node as the trainer's loss kind; shared by training and inference jobs.
#pragma once

#include "graph/compiler.h"
#include "kiln/train_config.h"

#include <optional>

namespace kiln::train {

std::optional<LossKind> trainerLossOf(graph::LossKind kind);  // nullopt: the graph has no loss node

}  // namespace kiln::train
