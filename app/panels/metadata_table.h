// The read-only "Metadata | Value" table the Weights and Models panels show (safetensors
// __metadata__ such as kohya's ss_* keys, a checkpoint's non-tensor entries).
#pragma once

#include <QTableWidget>

#include <string>
#include <utility>

namespace kiln::app {

// Headers, row height and read-only editing.
void setUpMetadataTable(QTableWidget* table);

// One row per entry; a value is cut to 2,000 characters in the cell and 8,000 in its tooltip (kohya's
// tag frequencies run to megabytes).
template <typename Entries>  // a range of std::pair<std::string, std::string>
void fillMetadataTable(QTableWidget* table, const Entries& entries)
{
    table->setRowCount(static_cast<int>(std::size(entries)));
    int r = 0;
    for (const auto& [k, v] : entries) {
        const QString value = QString::fromStdString(v);
        table->setItem(r, 0, new QTableWidgetItem(QString::fromStdString(k)));
        auto* item = new QTableWidgetItem(value.left(2000));
        item->setToolTip(value.left(8000));
        table->setItem(r, 1, item);
        ++r;
    }
    table->resizeColumnToContents(0);
}

}  // namespace kiln::app
