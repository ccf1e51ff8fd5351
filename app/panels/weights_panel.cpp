#include "panels/weights_panel.h"

#include "panels/metadata_table.h"

#include "qt/engine_thread.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMimeData>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <memory>

namespace kiln::app {

namespace {
QString qs(const std::string& s) { return QString::fromStdString(s); }

// Numeric columns sort by value, not by text.
class NumberItem : public QTreeWidgetItem {
public:
    using QTreeWidgetItem::QTreeWidgetItem;
    bool operator<(const QTreeWidgetItem& other) const override
    {
        const int c = treeWidget() ? treeWidget()->sortColumn() : 0;
        const QVariant a = data(c, Qt::UserRole), b = other.data(c, Qt::UserRole);
        if (a.isValid() && b.isValid()) return a.toULongLong() < b.toULongLong();
        return QTreeWidgetItem::operator<(other);
    }
};
}  // namespace

WeightsPanel::WeightsPanel(kiln::qt::EngineThread& engine, QWidget* parent)
    : QWidget(parent), engine_(engine), title_(new QLabel(this)), summary_(new QLabel(this)),
      filter_(new QLineEdit(this)), tensors_(new QTreeWidget(this)), metadata_(new QTableWidget(0, 2, this))
{
    setAcceptDrops(true);
    auto* openButton = new QPushButton(tr("Open Weights…"), this);
    openButton->setObjectName(QStringLiteral("openWeightsButton"));
    filter_->setPlaceholderText(tr("Filter tensors (e.g. attn, lora_up, first_stage_model)"));
    filter_->setClearButtonEnabled(true);
    title_->setText(tr("Open or drop a .safetensors, .ckpt, .pt or .pth file to see what it holds."));
    title_->setWordWrap(true);
    QFont bold = title_->font();
    bold.setBold(true);
    title_->setFont(bold);
    summary_->setObjectName(QStringLiteral("weightsSummary"));
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    tensors_->setObjectName(QStringLiteral("tensorTree"));
    tensors_->setHeaderLabels({tr("Tensor"), tr("DType"), tr("Shape"), tr("Elements"), tr("Size")});
    tensors_->setRootIsDecorated(false);
    tensors_->setUniformRowHeights(true);
    tensors_->setAlternatingRowColors(true);
    tensors_->setSortingEnabled(true);
    tensors_->sortByColumn(-1, Qt::AscendingOrder);
    tensors_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    tensors_->header()->setStretchLastSection(false);

    metadata_->setObjectName(QStringLiteral("metadataTable"));
    setUpMetadataTable(metadata_);

    auto* top = new QHBoxLayout;
    top->addWidget(openButton);
    top->addWidget(filter_, 1);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(tensors_);
    split->addWidget(metadata_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(title_);
    layout->addWidget(summary_);
    layout->addWidget(split, 1);

    connect(openButton, &QPushButton::clicked, this, &WeightsPanel::chooseAndOpen);
    connect(filter_, &QLineEdit::textChanged, this, &WeightsPanel::applyFilter);
}

void WeightsPanel::chooseAndOpen()
{
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open weights"), QFileInfo(path_).absolutePath(),
        tr("Weights (*.safetensors *.ckpt *.pt *.pth *.bin);;All files (*)"));
    if (!path.isEmpty()) open(path);
}

void WeightsPanel::open(const QString& path)
{
    if (job_) job_->cancel();
    path_ = path;
    title_->setText(tr("Reading %1…").arg(QFileInfo(path).fileName()));
    title_->setStyleSheet({});
    auto result = std::make_shared<std::optional<Result<WeightsSummary>>>();
    const std::string file = path.toStdString();
    job_ = engine_.submit(tr("Inspect %1").arg(QFileInfo(path).fileName()),
                          [file, result](JobContext&) -> Result<void> {
                              *result = inspectWeights(file);
                              if (!result->value()) return result->value().error();
                              return success();
                          });
    connect(job_, &kiln::qt::JobHandle::finished, this, [this, result, job = job_.data(), path](JobState s) {
        if (job != job_) return;  // a newer file was opened meanwhile
        if (s == JobState::Succeeded && *result) {
            show(result->value().value());
            Q_EMIT fileOpened(path);
        } else if (s == JobState::Failed) {
            showError(job->errorText());
        }
    });
}

void WeightsPanel::show(const WeightsSummary& s)
{
    title_->setText(QFileInfo(qs(s.path)).fileName());
    title_->setToolTip(qs(s.path));
    summary_->setText(tr("%1 · %2 tensors · %3 elements · %4 of tensor data · file %5")
                          .arg(qs(s.format))
                          .arg(s.tensors.size())
                          .arg(qs(formatCount(s.totalElements())), qs(formatBytes(s.totalBytes())),
                               qs(formatBytes(s.fileBytes))));
    tensors_->setUpdatesEnabled(false);
    tensors_->setSortingEnabled(false);
    tensors_->clear();
    QList<QTreeWidgetItem*> items;
    items.reserve(static_cast<int>(s.tensors.size()));
    for (const auto& t : s.tensors) {
        std::uint64_t n = 1;
        for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
        auto* item = new NumberItem({qs(t.name), qs(t.dtype), qs(formatShape(t.shape)), QLocale().toString(static_cast<qulonglong>(n)),
                                     qs(formatBytes(t.bytes))});
        item->setData(3, Qt::UserRole, QVariant::fromValue<qulonglong>(n));
        item->setData(4, Qt::UserRole, QVariant::fromValue<qulonglong>(t.bytes));
        item->setTextAlignment(3, Qt::AlignRight | Qt::AlignVCenter);
        item->setTextAlignment(4, Qt::AlignRight | Qt::AlignVCenter);
        items.append(item);
    }
    tensors_->addTopLevelItems(items);
    tensors_->setSortingEnabled(true);
    tensors_->setUpdatesEnabled(true);
    for (int c = 1; c < 5; ++c) tensors_->resizeColumnToContents(c);

    fillMetadataTable(metadata_, s.metadata);
    applyFilter(filter_->text());
    Q_EMIT statusMessage(tr("Read %1 tensors from %2").arg(s.tensors.size()).arg(QFileInfo(qs(s.path)).fileName()));
}

void WeightsPanel::showError(const QString& text)
{
    title_->setText(text);
    title_->setStyleSheet(QStringLiteral("color: #d9534f;"));
    summary_->clear();
    tensors_->clear();
    metadata_->setRowCount(0);
    Q_EMIT statusMessage(text);
}

void WeightsPanel::applyFilter(const QString& text)
{
    for (int i = 0; i < tensors_->topLevelItemCount(); ++i) {
        auto* item = tensors_->topLevelItem(i);
        item->setHidden(!text.isEmpty() && !item->text(0).contains(text, Qt::CaseInsensitive));
    }
}

void WeightsPanel::dragEnterEvent(QDragEnterEvent* e)
{
    if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void WeightsPanel::dropEvent(QDropEvent* e)
{
    const auto urls = e->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile()) open(urls.first().toLocalFile());
}

}  // namespace kiln::app
