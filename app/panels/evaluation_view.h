// Showing an evaluation: the confusion matrix with per-class accuracy as a table, and a
// preview picture (the grid of sample predictions). Shared by the Train and Run panels.
#pragma once

#include "kiln/job.h"
#include "kiln/train_run.h"

#include <string>
#include <vector>

class QLabel;
class QTableWidget;

namespace kiln::app {

// Rows are true classes, columns predicted ones, and a last column the class's accuracy. Without
// class names a 10-class evaluation is labelled with Fashion-MNIST's classes, others by number.
void showConfusion(QTableWidget* table, const kiln::train::Evaluation& v, const std::vector<std::string>& classNames = {});
void showPreview(QLabel* label, const kiln::Preview& preview);

}  // namespace kiln::app
