#include "panels/metadata_table.h"

#include <QHeaderView>

namespace kiln::app {

void setUpMetadataTable(QTableWidget* table)
{
    table->setHorizontalHeaderLabels({QTableWidget::tr("Metadata"), QTableWidget::tr("Value")});
    table->horizontalHeader()->setStretchLastSection(true);
    table->verticalHeader()->hide();
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 6);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
}

}  // namespace kiln::app
