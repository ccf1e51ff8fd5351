#include "panels/jobs_panel.h"

#include "jobs_model.h"
#include "qt/job_handle.h"
#include "widgets/progress_delegate.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

namespace kiln::app {

JobsPanel::JobsPanel(JobsModel& model, QWidget* parent)
    : QWidget(parent), model_(model), view_(new QTableView(this)), cancel_(new QPushButton(tr("Cancel"), this)),
      clear_(new QPushButton(tr("Clear Finished"), this))
{
    view_->setObjectName(QStringLiteral("jobsView"));
    view_->setModel(&model);
    view_->setItemDelegateForColumn(JobsModel::Progress, new widgets::ProgressDelegate(JobsModel::ProgressRole, view_));
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->verticalHeader()->hide();
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setColumnWidth(JobsModel::Title, 260);
    view_->setColumnWidth(JobsModel::Progress, 160);
    view_->setShowGrid(false);
    view_->setAlternatingRowColors(true);
    cancel_->setObjectName(QStringLiteral("cancelJobButton"));

    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(clear_);
    buttons->addWidget(cancel_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(view_);
    layout->addLayout(buttons);

    connect(cancel_, &QPushButton::clicked, this, [this] {
        for (const QModelIndex& i : view_->selectionModel()->selectedRows())
            if (auto* h = model_.handle(i.row())) h->cancel();
    });
    connect(clear_, &QPushButton::clicked, this, [this] { model_.clearFinished(); });
    connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &JobsPanel::updateButtons);
    connect(&model, &QAbstractItemModel::dataChanged, this, &JobsPanel::updateButtons);
    updateButtons();
}

void JobsPanel::updateButtons()
{
    bool cancellable = false;
    for (const QModelIndex& i : view_->selectionModel()->selectedRows())
        if (auto* h = model_.handle(i.row()); h && !h->isFinished()) cancellable = true;
    cancel_->setEnabled(cancellable);
}

}  // namespace kiln::app
