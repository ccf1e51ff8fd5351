// Models: the checkpoints, VAEs, LoRAs and embeddings in the folders set in Preferences
// (QSettings models/checkpoints, models/vae, models/loras, models/embeddings), with what each file is,
// its size and its SHA-256. Scanning and hashing are jobs on the engine thread; the panel only shows.
#pragma once

#include "diffusion/model_library.h"

#include <QHash>
#include <QPointer>
#include <QStringList>
#include <QWidget>
#include <memory>
#include <mutex>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;
class QTextBrowser;

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
    // Hashes every listed file without a known hash (cached ones cost a stat). nullptr when none is missing.
    kiln::qt::JobHandle* computeHashes();
    void cancelJob();

    // "all" or a kind id ("checkpoints", "vae", "loras", "embeddings").
    void setKindFilter(const QString& id);
    bool selectModel(const QString& nameOrPath);  // false when no visible row matches
    const std::vector<kiln::diffusion::ModelEntry>& entries() const { return entries_; }
    QString knownHash(const QString& path) const { return hashes_.value(path); }
    QStringList problems() const { return problems_; }

Q_SIGNALS:
    void useCheckpoint(const QString& path);
    void useVae(const QString& path);
    void statusMessage(const QString& text);
    void scanFinished();
    void hashesFinished();

protected:
    void showEvent(QShowEvent* e) override;

private:
    struct HashInbox;  // hashes the job finished and the UI has not shown yet

    void fillTable();
    void applyFilter();
    void showDetails();
    void updateButtons();
    void takeHashes();
    void setRowHash(int row, const QString& sha);
    void watch(kiln::qt::JobHandle* job);  // progress bar, status text and buttons while it runs
    const kiln::diffusion::ModelEntry* selectedEntry() const;
    int rowOfPath(const QString& path) const;

    kiln::qt::EngineThread& engine_;
    QPointer<kiln::qt::JobHandle> job_;
    std::shared_ptr<HashInbox> inbox_;
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
