// The Models panel, offscreen, on model folders set in a temporary QSettings: it lists what a scan job
// finds, computes hashes with a job (checked against QCryptographicHash), keeps them for the next scan,
// shows a LoRA's metadata, filters by kind, emits useCheckpoint / useVae, and cancels a long hash.
#include "io/safetensors_file.h"
#include "panels/models_panel.h"
#include "preferences_dialog.h"
#include "qt/engine_thread.h"
#include "qt/job_handle.h"
#include "system_facts.h"

#include <QApplication>
#include <QCryptographicHash>
#include <QFile>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>

#include <filesystem>
#include <fstream>

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

    void longHashIsCancelled()
    {
        // 1 GiB of zeros, sparse: nothing on disk, seconds to hash, so the cancel lands mid-file.
        const fs::path big = root_ / "ck/big.ckpt";
        {
            std::ofstream(big, std::ios::binary).flush();
        }
        fs::resize_file(big, std::uintmax_t{1} << 30);
        kiln::qt::EngineThread engine;
        ModelsPanel panel(engine);
        QSignalSpy scanned(&panel, &ModelsPanel::scanFinished);
        QVERIFY(panel.rescan());
        QTRY_COMPARE_WITH_TIMEOUT(scanned.count(), 1, 20000);
        QCOMPARE(panel.entries().size(), std::size_t{5});
        QPointer<kiln::qt::JobHandle> job = panel.computeHashes();
        QVERIFY(job);
        QSignalSpy progressed(job.data(), &kiln::qt::JobHandle::progressChanged);
        QTRY_VERIFY_WITH_TIMEOUT(progressed.count() > 0, 20000);
        QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("cancelModelsJobButton")), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(job->isFinished(), 10000);
        QCOMPARE(job->state(), kiln::JobState::Cancelled);
        QVERIFY(panel.knownHash(QString::fromStdString(big.string())).isEmpty());
        fs::remove(big);
    }
};

QTEST_MAIN(TestModelsPanel)
#include "test_models_panel.moc"
