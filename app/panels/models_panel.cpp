#include "panels/models_panel.h"

#include "panels/metadata_table.h"
#include "preferences_dialog.h"

#include "kiln/weights.h"
#include "qt/engine_thread.h"

#include <QComboBox>
#include <QDateTime>
#include <QFont>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QShowEvent>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <utility>

namespace kiln::app {

using kiln::diffusion::ModelEntry;
using kiln::diffusion::ModelKind;

struct ModelsPanel::HashRun {
    std::atomic<bool> cancel{false};
    std::mutex mutex;  // guards what follows: written by the pool task, taken by the UI thread
    double progress = 0;
    std::string message;
    bool fresh = false;  // progress or message changed since the UI last looked
    std::vector<std::pair<std::string, std::string>> done;  // path, sha256
    std::vector<std::string> problems;
    bool finished = false;
    bool cancelled = false;
};

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

constexpr int kEntryRole = Qt::UserRole;       // index into entries_ (Name column)
constexpr int kSortRole = Qt::UserRole + 1;   // numbers that sort as numbers

class SortItem : public QTableWidgetItem {
public:
    using QTableWidgetItem::QTableWidgetItem;
    bool operator<(const QTableWidgetItem& other) const override
    {
        const QVariant a = data(kSortRole), b = other.data(kSortRole);
        if (a.isValid() && b.isValid()) return a.toLongLong() < b.toLongLong();
        return text().compare(other.text(), Qt::CaseInsensitive) < 0;
    }
};

QString kindName(ModelKind k)
{
    switch (k) {
    case ModelKind::Checkpoint: return ModelsPanel::tr("Checkpoint");
    case ModelKind::Vae: return ModelsPanel::tr("VAE");
    case ModelKind::Lora: return ModelsPanel::tr("LoRA");
    case ModelKind::Embedding: return ModelsPanel::tr("Embedding");
    }
    return {};
}

QString typeText(const ModelEntry& e)
{
    if (!e.info.detectedType.empty()) return qs(e.info.detectedType);
    if (!e.info.problem.empty()) return ModelsPanel::tr("unreadable");
    if (e.info.format == "pickle") return ModelsPanel::tr("pickle (not read)");
    return ModelsPanel::tr("unknown");
}

QString modifiedText(std::int64_t ns)
{
    return QLocale().toString(QDateTime::fromMSecsSinceEpoch(ns / 1'000'000), QLocale::ShortFormat);
}

QString folderKey(const std::vector<kiln::diffusion::ModelFolder>& folders)
{
    QStringList parts;
    for (const auto& f : folders) parts << qs(std::string(kiln::diffusion::modelKindId(f.kind))) + QLatin1Char('=') + qs(f.path);
    return parts.join(QLatin1Char('\n'));
}

}  // namespace

ModelsPanel::ModelsPanel(kiln::qt::EngineThread& engine, QWidget* parent)
    : QWidget(parent), engine_(engine), kind_(new QComboBox(this)), filter_(new QLineEdit(this)),
      rescan_(new QPushButton(tr("Rescan"), this)), hash_(new QPushButton(tr("Compute Hashes"), this)),
      cancel_(new QPushButton(tr("Cancel"), this)), use_(new QPushButton(tr("Use in Generate"), this)),
      progress_(new QProgressBar(this)), status_(new QLabel(this)), table_(new QTableWidget(0, ColumnCount, this)),
      details_(new QTextBrowser(this)), metadata_(new QTableWidget(0, 2, this))
{
    pool_.setMaxThreadCount(1);
    hashTimer_ = new QTimer(this);
    hashTimer_->setInterval(33);  // ~30 Hz, as jobs' updates are coalesced
    connect(hashTimer_, &QTimer::timeout, this, &ModelsPanel::pollHashing);
    setObjectName(QStringLiteral("modelsPanel"));
    kind_->setObjectName(QStringLiteral("modelKindFilter"));
    kind_->addItem(tr("All kinds"), QStringLiteral("all"));
    for (auto k : kiln::diffusion::kModelKinds)
        kind_->addItem(kindName(k), qs(std::string(kiln::diffusion::modelKindId(k))));
    filter_->setObjectName(QStringLiteral("modelNameFilter"));
    filter_->setPlaceholderText(tr("Filter by name"));
    filter_->setClearButtonEnabled(true);
    rescan_->setObjectName(QStringLiteral("rescanModelsButton"));
    hash_->setObjectName(QStringLiteral("computeHashesButton"));
    hash_->setToolTip(tr("SHA-256 of every listed file not hashed yet; A1111's short hash is its first 10 digits. "
                         "Hashes are kept, so a file is read again only when it changes."));
    cancel_->setObjectName(QStringLiteral("cancelModelsJobButton"));
    use_->setObjectName(QStringLiteral("useInGenerateButton"));
    use_->setToolTip(tr("Set the selected checkpoint or VAE in the Generate panel"));
    progress_->setObjectName(QStringLiteral("modelsProgress"));
    progress_->setRange(0, 1000);
    progress_->setMaximumWidth(200);
    progress_->hide();
    status_->setObjectName(QStringLiteral("modelsStatus"));
    status_->setWordWrap(true);

    table_->setObjectName(QStringLiteral("modelTable"));
    table_->setHorizontalHeaderLabels({tr("Name"), tr("Type"), tr("Size"), tr("Hash"), tr("Modified")});
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setAlternatingRowColors(true);
    table_->setShowGrid(false);
    table_->setWordWrap(false);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->horizontalHeader()->setSectionResizeMode(Name, QHeaderView::Stretch);
    // Unsorted until a header is clicked: the scan's order (kind, then folder path) groups the kinds.
    table_->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);

    details_->setObjectName(QStringLiteral("modelDetails"));
    details_->setOpenLinks(false);
    metadata_->setObjectName(QStringLiteral("modelMetadata"));
    setUpMetadataTable(metadata_);
    metadata_->setWordWrap(false);

    auto* top = new QHBoxLayout;
    top->addWidget(kind_);
    top->addWidget(filter_, 1);
    top->addWidget(rescan_);
    top->addWidget(hash_);
    top->addWidget(cancel_);
    auto* side = new QSplitter(Qt::Vertical, this);
    side->addWidget(details_);
    side->addWidget(metadata_);
    side->setStretchFactor(0, 1);
    side->setStretchFactor(1, 1);
    auto* sideBox = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(sideBox);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    sideLayout->addWidget(side, 1);
    sideLayout->addWidget(use_, 0, Qt::AlignRight);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(table_);
    split->addWidget(sideBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(status_, 1);
    bottom->addWidget(progress_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);
    layout->addLayout(bottom);

    connect(kind_, &QComboBox::currentIndexChanged, this, &ModelsPanel::applyFilter);
    connect(filter_, &QLineEdit::textChanged, this, &ModelsPanel::applyFilter);
    connect(rescan_, &QPushButton::clicked, this, [this] { rescan(); });
    connect(hash_, &QPushButton::clicked, this, [this] { computeHashes(); });
    connect(cancel_, &QPushButton::clicked, this, &ModelsPanel::cancelJob);
    connect(table_, &QTableWidget::itemSelectionChanged, this, [this] {
        showDetails();
        updateButtons();
    });
    auto use = [this] {
        const ModelEntry* e = selectedEntry();
        if (!e) return;
        if (e->kind == ModelKind::Checkpoint) Q_EMIT useCheckpoint(qs(e->path));
        else if (e->kind == ModelKind::Vae) Q_EMIT useVae(qs(e->path));
    };
    connect(use_, &QPushButton::clicked, this, use);
    connect(table_, &QTableWidget::itemDoubleClicked, this, use);
    showDetails();
    updateButtons();
}

ModelsPanel::~ModelsPanel()
{
    // The task holds only the shared run, never the panel; it stops within one 4 MiB chunk and saves
    // what it finished.
    if (hashRun_) hashRun_->cancel = true;
    pool_.waitForDone();
}

std::vector<kiln::diffusion::ModelFolder> ModelsPanel::configuredFolders()
{
    QSettings s;
    std::vector<kiln::diffusion::ModelFolder> folders;
    for (auto k : kiln::diffusion::kModelKinds) {
        const QString path = s.value(PreferencesDialog::modelFolderKey(k)).toString().trimmed();
        if (!path.isEmpty()) folders.push_back({k, path.toStdString()});
    }
    return folders;
}

bool ModelsPanel::foldersChanged()
{
    if (!isVisible() || folderKey(configuredFolders()) == scannedFolders_) return false;
    rescan();
    return true;
}

void ModelsPanel::showEvent(QShowEvent* e)
{
    QWidget::showEvent(e);
    // The folders may have changed in Preferences since the last scan; a scan is cheap (headers only).
    if (!scannedOnce_ || folderKey(configuredFolders()) != scannedFolders_) rescan();
}

kiln::qt::JobHandle* ModelsPanel::rescan()
{
    if (job_ && !job_->isFinished()) job_->cancel();
    const auto folders = configuredFolders();
    scannedOnce_ = true;
    scannedFolders_ = folderKey(folders);
    if (folders.empty()) {
        entries_.clear();
        hashes_.clear();
        problems_.clear();
        fillTable();
        status_->setText(tr("No model folders are set: File > Preferences > Model folders."));
        return nullptr;
    }
    struct Scan {
        std::optional<kiln::diffusion::ScanResult> result;
        std::vector<std::pair<std::string, std::string>> known;  // path, sha256 from the cache
    };
    auto scan = std::make_shared<Scan>();
    auto* job = engine_.submit(
        tr("Scan model folders"),
        [folders, scan](JobContext& ctx) -> Result<void> {
            kiln::diffusion::ScanCallbacks cb;
            cb.cancelled = [&ctx] { return ctx.cancelled(); };
            cb.progress = [&ctx](std::size_t found, const std::string&) {
                ctx.report(-1, std::to_string(found) + (found == 1 ? " model found" : " models found"));
            };
            auto r = kiln::diffusion::scanModelFolders(folders, cb);
            if (!r) return r.error();
            const kiln::diffusion::HashCache cache;
            for (const auto& e : r->entries)
                if (!e.diffusersFolder)
                    if (auto h = cache.lookup(e.path)) scan->known.emplace_back(e.path, *h);
            scan->result = std::move(r).value();
            return success();
        },
        this);
    job_ = job;
    status_->setText(tr("Scanning %1 folders…").arg(folders.size()));
    watch(job);
    connect(job, &kiln::qt::JobHandle::finished, this, [this, job, scan](JobState s) {
        if (job != job_) return;  // a newer scan replaced this one
        if (s != JobState::Succeeded || !scan->result) {
            status_->setText(s == JobState::Cancelled ? tr("Scan cancelled.") : job->errorText());
            return;
        }
        // Taken before entries_ is replaced: the rows' kEntryRole indices point into the old list.
        const ModelEntry* before = selectedEntry();
        const QString keep = before ? qs(before->path) : QString();
        entries_ = std::move(scan->result->entries);
        problems_.clear();
        for (const auto& p : scan->result->problems) problems_ << qs(p);
        hashes_.clear();
        for (const auto& [path, sha] : scan->known) hashes_.insert(qs(path), qs(sha));
        // Hashed by a run still going whose cache save is not due yet.
        if (hashRun_)
            for (auto it = runHashes_.cbegin(); it != runHashes_.cend(); ++it)
                if (!hashes_.contains(it.key())) hashes_.insert(it.key(), it.value());
        fillTable(keep);
        std::uint64_t bytes = 0;
        for (const auto& e : entries_) bytes += e.size;
        QString text = (entries_.size() == 1 ? tr("1 model, %1") : tr("%1 models, %2").arg(entries_.size()))
                           .arg(qs(formatBytes(bytes)));
        if (!problems_.isEmpty()) text += tr(" · %1 folder problems (hover to see them)").arg(problems_.size());
        summary_ = text;
        status_->setText(text);
        status_->setToolTip(problems_.join(QLatin1Char('\n')));
        Q_EMIT statusMessage(tr("Models: %1").arg(text));
        Q_EMIT scanFinished();
    });
    return job;
}

bool ModelsPanel::computeHashes()
{
    if (hashRun_) return false;  // one run at a time; Cancel stops it
    std::vector<std::string> files;
    for (const auto& e : entries_)
        if (!e.diffusersFolder && !hashes_.contains(qs(e.path))) files.push_back(e.path);
    if (files.empty()) {
        status_->setText(entries_.empty() ? tr("Nothing to hash.") : tr("Every file is hashed."));
        return false;
    }
    auto run = std::make_shared<HashRun>();
    hashRun_ = run;
    runHashes_.clear();
    // Not an engine job: hours of reading files must not hold up Generate, which waits in the engine's
    // FIFO. The task shares only `run` with the panel.
    pool_.start([files, run] {
        const auto name = [](const std::string& path) { return std::filesystem::path(path).filename().string(); };
        kiln::diffusion::HashFilesCallbacks cb;
        cb.cancelled = [&run] { return run->cancel.load(std::memory_order_relaxed); };
        cb.progress = [&](std::uint64_t done, std::uint64_t total, std::size_t index, const std::string& path) {
            std::lock_guard lock(run->mutex);
            run->progress = total ? double(done) / double(total) : 0;
            run->message = "Hashing " + name(path) + " (" + std::to_string(index + 1) + "/" +
                           std::to_string(files.size()) + ")";
            run->fresh = true;
        };
        cb.fileDone = [&run](const std::string& path, const kiln::Result<std::string>& sha) {
            if (!sha) return;  // its message is in the summary's problems
            std::lock_guard lock(run->mutex);
            run->done.emplace_back(path, *sha);
        };
        kiln::diffusion::HashFilesSummary summary;
        try {
            kiln::diffusion::HashCache cache;
            summary = kiln::diffusion::hashModelFiles(files, cache, cb);
        } catch (const std::exception& e) {
            summary.problems.push_back(std::string("hashing stopped: ") + e.what());
        }
        std::lock_guard lock(run->mutex);
        run->problems = std::move(summary.problems);
        run->cancelled = summary.cancelled;
        run->finished = true;
    });
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    progress_->show();
    status_->setText(files.size() == 1 ? tr("Hashing 1 file…") : tr("Hashing %1 files…").arg(files.size()));
    status_->setToolTip({});
    hashTimer_->start();
    updateButtons();
    return true;
}

void ModelsPanel::pollHashing()
{
    const auto run = hashRun_;
    if (!run) return hashTimer_->stop();
    std::vector<std::pair<std::string, std::string>> done;
    double progress = -1;
    QString message;
    bool finished = false;
    {
        std::lock_guard lock(run->mutex);
        done.swap(run->done);
        if (run->fresh) {
            progress = run->progress;
            message = qs(run->message);
            run->fresh = false;
        }
        finished = run->finished;
    }
    const ModelEntry* selected = selectedEntry();
    bool refresh = false;
    for (const auto& [path, sha] : done) {
        hashes_.insert(qs(path), qs(sha));
        runHashes_.insert(qs(path), qs(sha));
        setRowHash(rowOfPath(qs(path)), qs(sha));
        refresh = refresh || (selected && selected->path == path);
    }
    if (refresh) showDetails();
    if (progress >= 0 && !finished) {
        progress_->setValue(int(progress * 1000));
        if (!job_ || job_->isFinished()) status_->setText(message);
        Q_EMIT hashProgress(progress, message);
    }
    if (finished) finishHashing();
}

void ModelsPanel::finishHashing()
{
    const auto run = std::exchange(hashRun_, nullptr);
    hashTimer_->stop();
    runHashes_.clear();
    QStringList lines;
    bool cancelled = false;
    {
        std::lock_guard lock(run->mutex);
        for (const auto& p : run->problems) lines << qs(p);
        cancelled = run->cancelled;
    }
    if (!job_ || job_->isFinished()) {
        progress_->hide();
        if (cancelled) status_->setText(tr("Hashing cancelled; the files done are kept."));
        else if (!lines.isEmpty()) status_->setText(tr("Hashed; %1 files could not be (hover to see why).").arg(lines.size()));
        else status_->setText(tr("%1 · every file is hashed").arg(summary_));
        status_->setToolTip(lines.join(QLatin1Char('\n')));
    }
    updateButtons();
    Q_EMIT hashesFinished();
}

void ModelsPanel::cancelJob()
{
    if (job_) job_->cancel();
    if (hashRun_) hashRun_->cancel = true;
}

void ModelsPanel::watch(kiln::qt::JobHandle* job)
{
    progress_->setValue(0);
    progress_->setRange(0, 0);
    progress_->show();
    updateButtons();
    connect(job, &kiln::qt::JobHandle::progressChanged, this, [this, job](double p, const QString& message) {
        if (job != job_) return;
        if (p >= 0) progress_->setRange(0, 1000), progress_->setValue(int(p * 1000));
        if (!message.isEmpty()) status_->setText(message);
    });
    connect(job, &kiln::qt::JobHandle::finished, this, [this, job] {
        if (job != job_) return;
        if (!hashRun_) progress_->hide();
        else progress_->setRange(0, 1000);  // the hashing's bar again
        updateButtons();
    });
}

void ModelsPanel::fillTable(const QString& keepSelected)
{
    table_->setUpdatesEnabled(false);
    table_->setSortingEnabled(false);
    table_->clearContents();
    table_->setRowCount(static_cast<int>(entries_.size()));
    for (int row = 0; row < table_->rowCount(); ++row) {
        const ModelEntry& e = entries_[static_cast<std::size_t>(row)];
        auto* name = new SortItem(qs(e.name));
        name->setData(kEntryRole, row);
        name->setToolTip(qs(e.relativePath));
        auto* type = new SortItem(typeText(e));
        if (!e.info.problem.empty()) {
            type->setForeground(QColor(0xd9, 0x53, 0x4f));
            type->setToolTip(qs(e.info.problem));
        } else if (!e.info.details.empty()) {
            type->setToolTip(qs(e.info.details));
        }
        auto* size = new SortItem(qs(formatBytes(e.size)));
        size->setData(kSortRole, static_cast<qlonglong>(e.size));
        size->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        auto* modified = new SortItem(modifiedText(e.mtimeNs));
        modified->setData(kSortRole, static_cast<qlonglong>(e.mtimeNs));
        table_->setItem(row, Name, name);
        table_->setItem(row, Type, type);
        table_->setItem(row, Size, size);
        table_->setItem(row, Hash, new SortItem);
        table_->setItem(row, Modified, modified);
        if (e.diffusersFolder) {
            table_->item(row, Hash)->setText(QStringLiteral("—"));
            table_->item(row, Hash)->setToolTip(tr("A diffusers folder has no single file to hash."));
        } else if (hashes_.contains(qs(e.path))) {
            setRowHash(row, hashes_.value(qs(e.path)));
        }
    }
    table_->setSortingEnabled(true);
    table_->setUpdatesEnabled(true);
    applyFilter();
    if (!keepSelected.isEmpty()) selectModel(keepSelected);
    showDetails();
    updateButtons();
}

void ModelsPanel::setRowHash(int row, const QString& sha)
{
    if (row < 0) return;
    auto* item = table_->item(row, Hash);
    item->setText(sha.left(10));
    item->setToolTip(tr("SHA-256 %1").arg(sha));
    item->setFont(QFont(QStringLiteral("monospace")));
}

int ModelsPanel::rowOfPath(const QString& path) const
{
    for (int row = 0; row < table_->rowCount(); ++row) {
        const auto* item = table_->item(row, Name);
        const int i = item ? item->data(kEntryRole).toInt() : -1;
        if (i >= 0 && i < int(entries_.size()) && qs(entries_[std::size_t(i)].path) == path) return row;
    }
    return -1;
}

const ModelEntry* ModelsPanel::selectedEntry() const
{
    const auto rows = table_->selectionModel()->selectedRows(Name);
    if (rows.isEmpty()) return nullptr;
    const int i = rows.first().data(kEntryRole).toInt();
    return i >= 0 && i < int(entries_.size()) ? &entries_[std::size_t(i)] : nullptr;
}

void ModelsPanel::setKindFilter(const QString& id)
{
    kind_->setCurrentIndex(std::max(0, kind_->findData(id)));
}

bool ModelsPanel::selectModel(const QString& nameOrPath)
{
    for (int row = 0; row < table_->rowCount(); ++row) {
        if (table_->isRowHidden(row)) continue;
        const int i = table_->item(row, Name)->data(kEntryRole).toInt();
        const ModelEntry& e = entries_[std::size_t(i)];
        if (qs(e.name) == nameOrPath || qs(e.path) == nameOrPath) {
            table_->selectRow(row);
            table_->scrollToItem(table_->item(row, Name));
            return true;
        }
    }
    return false;
}

void ModelsPanel::applyFilter()
{
    const QString kind = kind_->currentData().toString();
    const QString text = filter_->text().trimmed();
    for (int row = 0; row < table_->rowCount(); ++row) {
        const int i = table_->item(row, Name)->data(kEntryRole).toInt();
        const ModelEntry& e = entries_[std::size_t(i)];
        const bool kindOk = kind == QLatin1String("all") || qs(std::string(kiln::diffusion::modelKindId(e.kind))) == kind;
        const bool textOk = text.isEmpty() || qs(e.relativePath).contains(text, Qt::CaseInsensitive);
        table_->setRowHidden(row, !(kindOk && textOk));
    }
}

void ModelsPanel::updateButtons()
{
    const bool scanning = job_ && !job_->isFinished();
    const bool hashing = hashRun_ != nullptr;
    cancel_->setEnabled(scanning || hashing);
    // One scan and one hashing run at a time: a second click would silently cancel the first.
    rescan_->setEnabled(!scanning);
    hash_->setEnabled(!scanning && !hashing && !entries_.empty());
    const ModelEntry* e = selectedEntry();
    use_->setEnabled(e && (e->kind == ModelKind::Checkpoint || e->kind == ModelKind::Vae));
}

void ModelsPanel::showDetails()
{
    const ModelEntry* e = selectedEntry();
    metadata_->setRowCount(0);
    if (!e) {
        details_->setHtml(tr("<p>Select a model to see what its header says.</p>"
                             "<p>Folders are set in <b>File &gt; Preferences &gt; Model folders</b>.</p>"));
        return;
    }
    const auto& info = e->info;
    auto row = [](const QString& key, const QString& value) {
        return QStringLiteral("<tr><td style='padding-right:12px'><b>%1</b></td><td>%2</td></tr>").arg(key, value);
    };
    QString html = QStringLiteral("<h3>%1</h3><p>%2</p><table>").arg(qs(e->name).toHtmlEscaped(), qs(e->path).toHtmlEscaped());
    html += row(tr("Kind"), kindName(e->kind));
    html += row(tr("Type"), typeText(*e).toHtmlEscaped());
    if (!info.details.empty()) html += row(tr("Details"), qs(info.details).toHtmlEscaped());
    if (!info.problem.empty())
        html += row(tr("Problem"), QStringLiteral("<span style='color:#d9534f'>%1</span>").arg(qs(info.problem).toHtmlEscaped()));
    html += row(tr("Size"), tr("%1 (%2 bytes)").arg(qs(formatBytes(e->size)), QLocale().toString(qulonglong(e->size))));
    html += row(tr("Modified"), modifiedText(e->mtimeNs));
    if (info.tensorCount) {
        html += row(tr("Tensors"), QLocale().toString(qulonglong(info.tensorCount)));
        html += row(tr("Parameters"), QStringLiteral("%1 (%2)").arg(qs(formatCount(info.parameterCount)),
                                                                   QLocale().toString(qulonglong(info.parameterCount))));
        QStringList types;
        for (const auto& [dtype, n] : info.dtypes) types << QStringLiteral("%1 × %2").arg(qs(dtype)).arg(n);
        html += row(tr("DTypes"), types.join(QStringLiteral(", ")));
    }
    if (e->diffusersFolder) {
        html += row(tr("SHA-256"), tr("a diffusers folder has no single file to hash"));
    } else if (const QString sha = hashes_.value(qs(e->path)); !sha.isEmpty()) {
        html += row(tr("SHA-256"), QStringLiteral("<code>%1</code>").arg(sha));
        html += row(tr("Short hash"), QStringLiteral("<code>%1</code> (A1111's Model hash)").arg(sha.left(10)));
    } else {
        html += row(tr("SHA-256"), tr("not computed yet (Compute Hashes)"));
    }
    html += QStringLiteral("</table>");
    details_->setHtml(html);

    fillMetadataTable(metadata_, info.metadata);
}

}  // namespace kiln::app
