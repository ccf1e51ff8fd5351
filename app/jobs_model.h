// The job queue as a table: every job the studio submitted, newest last.
#pragma once

#include <QAbstractTableModel>
#include <QPointer>
#include <QTimer>
#include <vector>

namespace kiln::qt {
class EngineThread;
class JobHandle;
}  // namespace kiln::qt

namespace kiln::app {

class JobsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Title, State, Progress, Elapsed, Eta, Message, ColumnCount };
    static constexpr int ProgressRole = Qt::UserRole + 1;

    explicit JobsModel(kiln::qt::EngineThread& engine, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation o, int role) const override;

    kiln::qt::JobHandle* handle(int row) const;
    kiln::qt::JobHandle* runningJob() const;
    void clearFinished();

Q_SIGNALS:
    void runningJobChanged();

private:
    void add(kiln::qt::JobHandle* h);
    void refreshRow(kiln::qt::JobHandle* h);

    std::vector<QPointer<kiln::qt::JobHandle>> jobs_;
    QTimer tick_;  // elapsed and ETA move on their own while a job runs
};

QString formatSeconds(double s);

}  // namespace kiln::app
