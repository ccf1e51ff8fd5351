// Models: the checkpoints, VAEs, LoRAs and embeddings in the folders set in Preferences
// (QSettings models/checkpoints, models/vae, models/loras, models/embeddings), with what each file is,
// its size and its SHA-256. Scanning (headers only, quick) is a job on the engine thread; hashing
// (minutes to hours of several-GB files) runs on the panel's own thread pool so Generate never waits
// behind it, with its progress in the panel's bar. The panel only shows.
#pragma once

#include "diffusion/model_library.h"

#include <QHash>
#include <QPointer>
#include <QStringList>
#include <QThreadPool>
#include <QWidget>
#include <memory>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;
class QTextBrowser;
class QTimer;

namespace kiln::qt {
class EngineThread;
class JobHandle;
}  // namespace kiln::qt

namespace kiln::app {

class ModelsPanel : public QWidget {
    Q_OBJECT
public:
    enum Column { Name, Type, Size, Hash, Modified, ColumnCount };

    ModelsPanel(kiln::qt::EngineThread& engine, QWidget* parent = nullptr);
    ~ModelsPanel() override;

    // The folders in QSettings now, in the order kinds are listed.
    static std::vector<kiln::diffusion::ModelFolder> configuredFolders();

    kiln::qt::JobHandle* rescan();
    // Hashes every listed file without a known hash (cached ones cost a stat) on the panel's thread
    // pool, not the engine thread; the cache is saved as each file is done. false when none is missing
    // or hashing is already running.
    bool computeHashes();
    bool isHashing() const { return hashRun_ != nullptr; }
    // Cancels the scan job and the hashing, whichever runs.
    void cancelJob();

    // "all" or a kind id ("checkpoints", "vae", "loras", "embeddings").
    void setKindFilter(const QString& id);
    bool selectModel(const QString& nameOrPath);  // false when no visible row matches
    const std::vector<kiln::diffusion::ModelEntry>& entries() const { return entries_; }
    QString knownHash(const QString& path) const { return hashes_.value(path); }
    QStringList problems() const { return problems_; }

public Q_SLOTS:
    // The folders in QSettings may have changed (Preferences accepted): rescans when they did and the
    // panel is showing (a hidden panel rescans when shown). true when a scan started.
    bool foldersChanged();

Q_SIGNALS:
    void useCheckpoint(const QString& path);
    void useVae(const QString& path);
    void statusMessage(const QString& text);
    void scanFinished();
    void hashesFinished();
    void hashProgress(double progress, const QString& message);  // 0..1, about 30 times a second at most

protected:
    void showEvent(QShowEvent* e) override;

private:
    struct HashRun;  // one Compute Hashes run: shared by the pool task and the UI thread

    void fillTable(const QString& keepSelected = {});  // reselects that path when it is still listed
    void applyFilter();
    void showDetails();
    void updateButtons();
    void pollHashing();  // the UI thread takes what the pool task reported
    void finishHashing();
    void setRowHash(int row, const QString& sha);
    void watch(kiln::qt::JobHandle* job);  // progress bar, status text and buttons while it runs
    const kiln::diffusion::ModelEntry* selectedEntry() const;
    int rowOfPath(const QString& path) const;

    kiln::qt::EngineThread& engine_;
    QPointer<kiln::qt::JobHandle> job_;  // the scan
    std::shared_ptr<HashRun> hashRun_;    // null when not hashing
    QHash<QString, QString> runHashes_;   // hashed by the current run (a rescan meanwhile keeps them)
    QThreadPool pool_;                    // hashing; one thread, so one disk is read at a time
    QTimer* hashTimer_ = nullptr;
    std::vector<kiln::diffusion::ModelEntry> entries_;
    QHash<QString, QString> hashes_;  // path -> sha256
    QStringList problems_;
    QString summary_;  // the last scan's "N models, size" line
    QString scannedFolders_;  // what the last scan covered, to rescan when Preferences changed them
    bool scannedOnce_ = false;

    QComboBox* kind_;
    QLineEdit* filter_;
    QPushButton* rescan_;
    QPushButton* hash_;
    QPushButton* cancel_;
    QPushButton* use_;
    QProgressBar* progress_;
    QLabel* status_;
    QTableWidget* table_;
    QTextBrowser* details_;
    QTableWidget* metadata_;
};

}  // namespace kiln::app
