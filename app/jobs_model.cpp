#include "jobs_model.h"

#include "qt/engine_thread.h"

#include <algorithm>

namespace kiln::app {

using kiln::qt::JobHandle;

QString formatSeconds(double s)
{
    if (s < 0) return QString();
    const int t = static_cast<int>(s + 0.5);
    if (t < 60) return QStringLiteral("%1 s").arg(t);
    if (t < 3600) return QStringLiteral("%1:%2").arg(t / 60).arg(t % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2:%3").arg(t / 3600).arg(t / 60 % 60, 2, 10, QLatin1Char('0')).arg(t % 60, 2, 10, QLatin1Char('0'));
}

JobsModel::JobsModel(kiln::qt::EngineThread& engine, QObject* parent) : QAbstractTableModel(parent)
{
    connect(&engine, &kiln::qt::EngineThread::jobSubmitted, this, &JobsModel::add);
    tick_.setInterval(500);
    connect(&tick_, &QTimer::timeout, this, [this] {
        if (auto* h = runningJob()) refreshRow(h);
    });
    tick_.start();
}

void JobsModel::add(JobHandle* h)
{
    if (!h->parent()) h->setParent(this);  // jobs nobody else keeps are kept here, for the history
    const int row = static_cast<int>(jobs_.size());
    beginInsertRows({}, row, row);
    jobs_.emplace_back(h);
    endInsertRows();
    connect(h, &JobHandle::progressChanged, this, [this, h] { refreshRow(h); });
    connect(h, &JobHandle::stateChanged, this, [this, h] {
        refreshRow(h);
        Q_EMIT runningJobChanged();
    });
    connect(h, &QObject::destroyed, this, [this] {
        // QPointer already reads null; drop those rows.
        for (int r = static_cast<int>(jobs_.size()) - 1; r >= 0; --r) {
            if (!jobs_[static_cast<std::size_t>(r)]) {
                beginRemoveRows({}, r, r);
                jobs_.erase(jobs_.begin() + r);
                endRemoveRows();
            }
        }
        Q_EMIT runningJobChanged();
    });
}

void JobsModel::refreshRow(JobHandle* h)
{
    auto it = std::find(jobs_.begin(), jobs_.end(), h);
    if (it == jobs_.end()) return;
    const int row = static_cast<int>(it - jobs_.begin());
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

int JobsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(jobs_.size());
}

int JobsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

JobHandle* JobsModel::handle(int row) const
{
    return row >= 0 && row < rowCount() ? jobs_[static_cast<std::size_t>(row)].data() : nullptr;
}

JobHandle* JobsModel::runningJob() const
{
    for (const auto& h : jobs_)
        if (h && h->state() == JobState::Running) return h;
    return nullptr;
}

void JobsModel::clearFinished()
{
    for (int r = rowCount() - 1; r >= 0; --r) {
        auto* h = handle(r);
        if (h && !h->isFinished()) continue;
        beginRemoveRows({}, r, r);
        jobs_.erase(jobs_.begin() + r);
        endRemoveRows();
        if (h && h->parent() == this) h->deleteLater();
    }
}

QVariant JobsModel::data(const QModelIndex& index, int role) const
{
    const JobHandle* h = handle(index.row());
    if (!h) return {};
    if (role == ProgressRole && index.column() == Progress) {
        if (h->state() == JobState::Succeeded) return 1.0;
        return h->state() == JobState::Running ? h->progress() : QVariant(-1.0);
    }
    if (role == Qt::ToolTipRole && h->error()) return h->errorText();
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
    case Title: return h->title();
    case State: return QString::fromLatin1(jobStateName(h->state()).data());
    case Progress: return {};
    case Elapsed: return h->state() == JobState::Queued ? QString() : formatSeconds(h->elapsedSeconds());
    case Eta: return formatSeconds(h->etaSeconds());
    case Message: return h->error() ? h->errorText() : h->message();
    default: return {};
    }
}

QVariant JobsModel::headerData(int section, Qt::Orientation o, int role) const
{
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"Job", "State", "Progress", "Elapsed", "ETA", "Message"};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

}  // namespace kiln::app
