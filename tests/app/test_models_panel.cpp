// The Models panel, offscreen, on model folders set in a temporary QSettings: it lists what a scan job
// finds, computes hashes off the engine thread (checked against QCryptographicHash) while an engine job
// still runs at once, keeps each hash on disk as soon as its file is done, keeps them for the next scan,
// shows a LoRA's metadata, filters by kind, emits useCheckpoint / useVae, cancels a long hash, keeps the
// selected model across a rescan, and rescans when Preferences changed the folders.
#include "io/safetensors_file.h"
#include "main_window.h"
#include "panels/models_panel.h"
#include "preferences_dialog.h"
#include "qt/engine_thread.h"
#include "qt/job_handle.h"
#include "system_facts.h"

#include <QApplication>
#include <QCryptographicHash>
#include <QDialogButtonBox>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <QTimer>

#include <filesystem>
#include <fstream>
#include <functional>

using kiln::app::ModelsPanel;
namespace fs = std::filesystem;

namespace {

void writeTensors(const fs::path& path, const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& specs,
                  const std::map<std::string, std::string>& meta = {})
{
    fs::create_directories(path.parent_path());
    std::vector<std::vector<std::uint8_t>> buffers;
    buffers.reserve(specs.size());
    std::vector<kiln::io::TensorBlob> blobs;
    for (const auto& [name, shape] : specs) {
        std::size_t n = 2;
        for (auto d : shape) n *= static_cast<std::size_t>(d);
        auto& b = buffers.emplace_back(n, std::uint8_t(buffers.size() + 1));
        blobs.push_back({name, kiln::io::DType::F16, shape, b});
    }
    QVERIFY(kiln::io::writeSafetensors(path.string(), blobs, meta).ok());
}

QString sha256Of(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return QString::fromLatin1(h.result().toHex());
}

int rowOf(QTableWidget* table, const QString& name)
{
    for (int r = 0; r < table->rowCount(); ++r)
        if (table->item(r, ModelsPanel::Name)->text() == name) return r;
    return -1;
}

QString selectedName(QTableWidget* table)
{
    const auto rows = table->selectionModel()->selectedRows(ModelsPanel::Name);
    return rows.size() == 1 ? rows.first().data().toString() : QString();
}

// Removes the files a test added even when it fails, so the next test sees the folders it expects.
struct RemoveAtEnd {
    std::vector<fs::path> paths;
    ~RemoveAtEnd()
    {
        std::error_code ec;
        for (const auto& p : paths) fs::remove(p, ec);
    }
};

int visibleRows(QTableWidget* table)
{
    int n = 0;
    for (int r = 0; r < table->rowCount(); ++r) n += !table->isRowHidden(r);
    return n;
}

}  // namespace

class TestModelsPanel : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    fs::path root_;

    QString path(const char* rel) const { return QString::fromStdString((root_ / rel).string()); }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        root_ = fs::path(dir_.path().toStdString());
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, dir_.filePath(QStringLiteral("settings")));
        QCoreApplication::setOrganizationName(QStringLiteral("KilnTests"));
        qputenv("KILN_CACHE_DIR", QByteArray::fromStdString((root_ / "cache").string()));

        writeTensors(root_ / "ck/sd15.safetensors", {{"model.diffusion_model.input_blocks.0.0.weight", {8, 4, 3, 3}},
                                                     {"first_stage_model.decoder.conv_out.weight", {3, 8, 3, 3}}});
        writeTensors(root_ / "vae/ft-mse.safetensors", {{"encoder.conv_in.weight", {8, 3, 3, 3}},
                                                        {"decoder.conv_out.weight", {3, 8, 3, 3}}});
        writeTensors(root_ / "lora/ink.safetensors",
                     {{"lora_unet_mid_block_attentions_0_proj_in.lora_down.weight", {4, 16}},
                      {"lora_unet_mid_block_attentions_0_proj_in.lora_up.weight", {16, 4}}},
                     {{"ss_network_dim", "4"}, {"ss_output_name", "ink"}});
        writeTensors(root_ / "emb/hands.safetensors", {{"emb_params", {2, 16}}});

        QSettings s;
        s.setValue(QStringLiteral("models/checkpoints"), path("ck"));
        s.setValue(QStringLiteral("models/vae"), path("vae"));
        s.setValue(QStringLiteral("models/loras"), path("lora"));
        s.setValue(QStringLiteral("models/embeddings"), path("emb"));
    }

    void preferencesKeepTheFolders()
    {
        kiln::qt::EngineThread engine;
        kiln::app::SystemFacts facts(engine, {});
        kiln::app::PreferencesDialog dialog(facts);
        auto* edit = dialog.findChild<QLineEdit*>(QStringLiteral("folderEdit_loras"));
        QVERIFY(edit);
        QCOMPARE(edit->text(), path("lora"));
        QVERIFY(dialog.findChild<QPushButton*>(QStringLiteral("folderBrowse_embeddings")));
        dialog.setModelFolder(QStringLiteral("models/loras"), path("elsewhere"));
        dialog.saveModelFolders();
        QCOMPARE(QSettings().value(QStringLiteral("models/loras")).toString(), path("elsewhere"));
        dialog.setModelFolder(QStringLiteral("models/loras"), path("lora"));
        dialog.saveModelFolders();
        QCOMPARE(ModelsPanel::configuredFolders().size(), std::size_t{4});
    }

    void listsHashesAndShows()
    {
        kiln::qt::EngineThread engine;
        ModelsPanel panel(engine);
        QSignalSpy scanned(&panel, &ModelsPanel::scanFinished);
        panel.resize(1100, 600);
        panel.show();  // showing it scans
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 1, 20000);
        auto* table = panel.findChild<QTableWidget*>(QStringLiteral("modelTable"));
        QCOMPARE(table->rowCount(), 4);
        const int sd = rowOf(table, QStringLiteral("sd15")), lora = rowOf(table, QStringLiteral("ink"));
        QVERIFY(sd >= 0 && lora >= 0);
        QCOMPARE(table->item(sd, ModelsPanel::Type)->text(), QStringLiteral("SD 1.x checkpoint"));
        QCOMPARE(table->item(lora, ModelsPanel::Type)->text(), QStringLiteral("LoRA"));
        QCOMPARE(table->item(rowOf(table, QStringLiteral("ft-mse")), ModelsPanel::Type)->text(), QStringLiteral("VAE"));
        QCOMPARE(table->item(rowOf(table, QStringLiteral("hands")), ModelsPanel::Type)->text(),
                 QStringLiteral("Textual inversion embedding"));
        QVERIFY(table->item(sd, ModelsPanel::Hash)->text().isEmpty());

        QSignalSpy hashed(&panel, &ModelsPanel::hashesFinished);
        QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("computeHashesButton")), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(hashed.count(), 1, 20000);
        for (const char* rel : {"ck/sd15.safetensors", "vae/ft-mse.safetensors", "lora/ink.safetensors",
                                "emb/hands.safetensors"}) {
            const QString expected = sha256Of(path(rel));
            QCOMPARE(panel.knownHash(path(rel)), expected);
            const QString name = QFileInfo(path(rel)).completeBaseName();
            QCOMPARE(table->item(rowOf(table, name), ModelsPanel::Hash)->text(), expected.left(10));
        }

        // The LoRA's header and hash in the detail pane.
        QVERIFY(panel.selectModel(QStringLiteral("ink")));
        const QString details = panel.findChild<QTextBrowser*>(QStringLiteral("modelDetails"))->toPlainText();
        QVERIFY2(details.contains(QStringLiteral("rank 4, 1 modules")), qPrintable(details));
        QVERIFY(details.contains(sha256Of(path("lora/ink.safetensors"))));
        auto* meta = panel.findChild<QTableWidget*>(QStringLiteral("modelMetadata"));
        QCOMPARE(meta->rowCount(), 2);
        QCOMPARE(meta->item(0, 0)->text(), QStringLiteral("ss_network_dim"));
        QCOMPARE(meta->item(0, 1)->text(), QStringLiteral("4"));
        auto* use = panel.findChild<QPushButton*>(QStringLiteral("useInGenerateButton"));
        QVERIFY(!use->isEnabled());  // a LoRA is not set as the model

        QSignalSpy checkpoint(&panel, &ModelsPanel::useCheckpoint), vae(&panel, &ModelsPanel::useVae);
        QVERIFY(panel.selectModel(QStringLiteral("sd15")));
        QVERIFY(use->isEnabled());
        QTest::mouseClick(use, Qt::LeftButton);
        QCOMPARE(checkpoint.size(), 1);
        QCOMPARE(checkpoint.first().first().toString(), path("ck/sd15.safetensors"));
        QVERIFY(panel.selectModel(QStringLiteral("ft-mse")));
        QTest::mouseClick(use, Qt::LeftButton);
        QCOMPARE(vae.size(), 1);
        QCOMPARE(vae.first().first().toString(), path("vae/ft-mse.safetensors"));
        QCOMPARE(checkpoint.size(), 1);

        panel.setKindFilter(QStringLiteral("loras"));
        QCOMPARE(visibleRows(table), 1);
        QVERIFY(!table->isRowHidden(lora));
        QVERIFY(!panel.selectModel(QStringLiteral("sd15")));  // filtered out
        panel.setKindFilter(QStringLiteral("all"));
        QCOMPARE(visibleRows(table), 4);
    }

    void hashesAreKeptForTheNextScan()
    {
        kiln::qt::EngineThread engine;
        ModelsPanel panel(engine);
        QSignalSpy scanned(&panel, &ModelsPanel::scanFinished);
        QVERIFY(panel.rescan());
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 1, 20000);
        auto* table = panel.findChild<QTableWidget*>(QStringLiteral("modelTable"));
        QCOMPARE(table->item(rowOf(table, QStringLiteral("sd15")), ModelsPanel::Hash)->text(),
                 sha256Of(path("ck/sd15.safetensors")).left(10));
        QVERIFY(!panel.computeHashes());  // nothing left to hash
    }

    // Hashing runs beside the engine thread, not in its FIFO: while a 2 GiB file is being hashed, a job
    // queued on the engine (a Generate click) runs at once. The file hashed before it is already in the
    // cache on disk (a crash now would not lose it), and Cancel stops mid-file without caching it.
    void hashingLeavesTheEngineFreeAndIsCancelled()
    {
        // 2 GiB of zeros, sparse: nothing on disk, seconds to hash, so the checks land mid-file.
        const fs::path big = root_ / "ck/big.ckpt", small = root_ / "ck/a_first.safetensors";
        const RemoveAtEnd cleanup{{big, small}};
        {
            std::ofstream(big, std::ios::binary).flush();
        }
        fs::resize_file(big, std::uintmax_t{2} << 30);
        writeTensors(small, {{"emb_params", {3, 16}}});
        kiln::qt::EngineThread engine;
        ModelsPanel panel(engine);
        QSignalSpy scanned(&panel, &ModelsPanel::scanFinished);
        QVERIFY(panel.rescan());
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 1, 20000);
        QCOMPARE(panel.entries().size(), std::size_t{6});
        QSignalSpy progressed(&panel, &ModelsPanel::hashProgress), hashed(&panel, &ModelsPanel::hashesFinished);
        QVERIFY(panel.computeHashes());
        QVERIFY(panel.isHashing());
        QVERIFY(!panel.computeHashes());  // one run at a time
        const QString smallPath = QString::fromStdString(small.string()), bigPath = QString::fromStdString(big.string());
        // a_first sorts before big: it is done first, and kept on disk while big is still being read.
        QTRY_VERIFY_WITH_TIMEOUT(!panel.knownHash(smallPath).isEmpty(), 20000);
        QCOMPARE(panel.knownHash(smallPath), sha256Of(smallPath));
        QCOMPARE(QString::fromStdString(kiln::diffusion::HashCache().lookup(small.string()).value_or("")),
                 sha256Of(smallPath));
        QTRY_VERIFY_WITH_TIMEOUT(progressed.count() > 0, 20000);

        QElapsedTimer clock;
        clock.start();
        QPointer<kiln::qt::JobHandle> quick =
            engine.submit(QStringLiteral("Generate"), [](kiln::JobContext&) { return kiln::success(); }, &panel);
        QTRY_VERIFY_WITH_TIMEOUT(quick->isFinished(), 5000);
        QCOMPARE(quick->state(), kiln::JobState::Succeeded);
        QVERIFY2(panel.isHashing(), "the engine job waited for the hashing to end");
        QVERIFY(panel.knownHash(bigPath).isEmpty());
        QVERIFY(clock.elapsed() < 5000);

        auto* cancel = panel.findChild<QPushButton*>(QStringLiteral("cancelModelsJobButton"));
        QVERIFY(cancel->isEnabled());
        QTest::mouseClick(cancel, Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(hashed.count(), 1, 10000);
        QVERIFY(!panel.isHashing());
        QVERIFY(panel.knownHash(bigPath).isEmpty());
        QVERIFY(!kiln::diffusion::HashCache().lookup(big.string()));
        QVERIFY(panel.findChild<QLabel*>(QStringLiteral("modelsStatus"))->text().contains(QStringLiteral("cancelled")));
        QVERIFY(!cancel->isEnabled());
    }

    // A rescan that lists a new file before the selected one keeps the same model selected (by path,
    // not by its old index into the list).
    void rescanKeepsTheSelectedModel()
    {
        kiln::qt::EngineThread engine;
        ModelsPanel panel(engine);
        QSignalSpy scanned(&panel, &ModelsPanel::scanFinished);
        QVERIFY(panel.rescan());
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 1, 20000);
        auto* table = panel.findChild<QTableWidget*>(QStringLiteral("modelTable"));
        QCOMPARE(panel.entries().size(), std::size_t{4});
        QCOMPARE(QString::fromStdString(panel.entries()[2].name), QStringLiteral("ink"));  // the 3rd model
        QVERIFY(panel.selectModel(QStringLiteral("ink")));
        QCOMPARE(selectedName(table), QStringLiteral("ink"));

        const fs::path early = root_ / "ck/aaa.safetensors";  // lists first: ink becomes the 4th
        const RemoveAtEnd cleanup{{early}};
        writeTensors(early, {{"emb_params", {1, 16}}});
        QVERIFY(panel.rescan());
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 2, 20000);
        QCOMPARE(panel.entries().size(), std::size_t{5});
        QCOMPARE(QString::fromStdString(panel.entries()[3].name), QStringLiteral("ink"));
        QCOMPARE(selectedName(table), QStringLiteral("ink"));
        const QString details = panel.findChild<QTextBrowser*>(QStringLiteral("modelDetails"))->toPlainText();
        QVERIFY2(details.contains(path("lora/ink.safetensors")), qPrintable(details));
    }

    // File > Preferences accepted with another LoRA folder: the showing Models panel rescans at once.
    void preferencesRescanTheShowingPanel()
    {
        writeTensors(root_ / "lora2/other.safetensors",
                     {{"lora_unet_mid_block_attentions_0_proj_in.lora_down.weight", {4, 16}},
                      {"lora_unet_mid_block_attentions_0_proj_in.lora_up.weight", {16, 4}}});
        struct RestoreLoras {
            QString path;
            ~RestoreLoras() { QSettings().setValue(QStringLiteral("models/loras"), path); }
        } restore{path("lora")};
        kiln::app::MainWindow w;
        auto* panel = w.findChild<ModelsPanel*>();
        QVERIFY(panel);
        QSignalSpy scanned(panel, &ModelsPanel::scanFinished);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        auto* tabs = w.findChild<QTabWidget*>(QStringLiteral("panelTabs"));
        tabs->setCurrentWidget(panel);
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 1, 20000);
        QCOMPARE(panel->entries().size(), std::size_t{4});

        bool accepted = false;
        std::function<void()> accept = [&] {
            auto* dialog = qobject_cast<kiln::app::PreferencesDialog*>(QApplication::activeModalWidget());
            if (!dialog) {
                QTimer::singleShot(20, this, accept);
                return;
            }
            dialog->setModelFolder(QStringLiteral("models/loras"), path("lora2"));
            auto* buttons = dialog->findChild<QDialogButtonBox*>();
            QTest::mouseClick(buttons->button(QDialogButtonBox::Ok), Qt::LeftButton);
            accepted = true;
        };
        QTimer::singleShot(0, this, accept);
        w.showPreferences();
        QVERIFY(accepted);
        QCOMPARE(QSettings().value(QStringLiteral("models/loras")).toString(), path("lora2"));
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 2, 20000);
        bool other = false, ink = false;
        for (const auto& e : panel->entries()) {
            other = other || e.name == "other";
            ink = ink || e.name == "ink";
        }
        QVERIFY(other && !ink);
    }
};

QTEST_MAIN(TestModelsPanel)
#include "test_models_panel.moc"
