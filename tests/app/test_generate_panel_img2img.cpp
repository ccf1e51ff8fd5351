// The Generate panel's img2img and Inpaint modes, offscreen, on the tiny SD model: what the form hands the
// engine, init images refused or read off the UI thread (open, drop, paste; transparency, alpha masks), Send
// to img2img from the gallery, and both modes run on the model.
#include "generate_panel_test_support.h"
#include "widgets/mask_editor.h"

#include <QApplication>
#include <QLabel>
#include <QBuffer>
#include <QClipboard>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QPushButton>
#include <QSpinBox>
#include <QTabBar>

#include <cstdint>
#include <vector>

#include <sys/stat.h>

using namespace kiln::generatetest;

class TestGeneratePanelImg2Img : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString model_;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        model_ = setUpTinyModel(dir_);
        QVERIFY(!model_.isEmpty());
    }

    // What the form hands the engine in each mode; what it refuses before queuing anything.
    void configCarriesInitImageAndMask()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.resize(1100, 750);
        panel.show();
        fillForm(panel, model_, 3);
        auto* tabs = panel.findChild<QTabBar*>(QStringLiteral("generateModeTabs"));
        QVERIFY(tabs);
        QCOMPARE(tabs->count(), 3);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Txt2Img);
        QVERIFY(!panel.initImage()->isVisible());
        QCOMPARE(panel.config().strength, 0.75);  // A1111's default
        QCOMPARE(panel.config().maskBlur, 4);
        QVERIFY(panel.config().vaePath.empty());
        const QString noVae = dir_.filePath(QStringLiteral("no-such-vae.safetensors"));
        panel.setVaePath(noVae);
        QCOMPARE(QString::fromStdString(panel.config().vaePath), noVae);
        QVERIFY(!panel.generate());
        QVERIFY2(panel.statusText().contains(QStringLiteral("VAE")), qPrintable(panel.statusText()));
        panel.setVaePath({});

        tabs->setCurrentIndex(1);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Img2Img);
        QVERIFY(panel.initImage()->isVisible());
        QVERIFY(!panel.generate());  // no image yet
        QVERIFY2(panel.statusText().contains(QStringLiteral("image to start from")), qPrintable(panel.statusText()));

        const QImage init = pattern(100, 60);
        panel.initImage()->setImage(init, QStringLiteral("test"));
        panel.setStrength(0.4);
        auto c = panel.config();
        QCOMPARE(c.initWidth, 100);
        QCOMPARE(c.initHeight, 60);
        QCOMPARE(c.initRgb.size(), std::size_t(100 * 60 * 3));
        const std::size_t at = (std::size_t(17) * 100 + 42) * 3;  // pixel (42, 17)
        QCOMPARE(int(c.initRgb[at]), (42 * 37) % 256);
        QCOMPARE(int(c.initRgb[at + 1]), (17 * 53) % 256);
        QCOMPARE(int(c.initRgb[at + 2]), (42 * 17) % 256);
        QCOMPARE(c.strength, 0.4);
        QVERIFY(c.mask.empty());  // img2img has no mask

        // Size from image: 100x60 rounds to 104x64 (multiples of 8).
        panel.initImage()->findChild<QPushButton*>(QStringLiteral("initSizeButton"))->click();
        QCOMPARE(panel.config().width, 104);
        QCOMPARE(panel.config().height, 64);
        QCOMPARE(GenerateInitImage::generationSize(QSize(4000, 3000)), QSize(2048, 1536));

        panel.setMode(GeneratePanel::Mode::Inpaint);
        QCOMPARE(tabs->currentIndex(), 2);
        QVERIFY(!panel.generate());  // nothing painted yet
        QVERIFY2(panel.statusText().contains(QStringLiteral("Paint over")), qPrintable(panel.statusText()));
        panel.initImage()->maskEditor()->canvas()->setMask(leftHalfMask(100, 60));
        panel.setMaskBlur(9);
        c = panel.config();
        QCOMPARE(c.mask.size(), std::size_t(100 * 60));
        QCOMPARE(int(c.mask[10 * 100 + 49]), 255);
        QCOMPARE(int(c.mask[10 * 100 + 50]), 0);
        QCOMPARE(c.maskBlur, 9);
        QCOMPARE(c.initRgb.size(), std::size_t(100 * 60 * 3));

        panel.setMode(GeneratePanel::Mode::Txt2Img);
        c = panel.config();
        QVERIFY(c.initRgb.empty());
        QVERIFY(c.mask.empty());
        QCOMPARE(c.initWidth, 0);
    }

    // Files that do not read, or are too large, leave the current image alone and say why.
    void initImageRefusesBadFiles()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        const QString good = dir_.filePath(QStringLiteral("init.png"));
        QVERIFY(pattern(40, 24).save(good));
        QVERIFY2(load(init, good), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        const QString junk = dir_.filePath(QStringLiteral("junk.png"));
        {
            QFile f(junk);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("\x89PNG not really");
        }
        QVERIFY(!load(init, junk));
        QVERIFY2(panel.statusText().contains(QStringLiteral("Could not read")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // A BMP header claiming 12000 x 9000 pixels: refused from the header, before any decoding.
        const QString huge = dir_.filePath(QStringLiteral("huge.bmp"));
        {
            QFile f(huge);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(hugeBmpHeader());
        }
        QVERIFY(!load(init, huge));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // A dropped file and the clipboard are the other ways in.
        const QString other = dir_.filePath(QStringLiteral("other.png"));
        QVERIFY(pattern(30, 20).save(other));
        QMimeData files;
        files.setUrls({QUrl::fromLocalFile(other)});
        QDragEnterEvent enter(QPoint(5, 5), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(init, &enter);
        QVERIFY(enter.isAccepted());
        QVERIFY(loadAndWait(init, [&] {
            QDropEvent drop(QPointF(5, 5), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
            QApplication::sendEvent(init, &drop);
        }));
        QCOMPARE(init->image().size(), QSize(30, 20));
        QApplication::clipboard()->setImage(pattern(12, 34));
        QVERIFY(loadAndWait(init, [&] { init->paste(); }));
        QCOMPARE(init->image().size(), QSize(12, 34));
        QApplication::clipboard()->setText(QStringLiteral("no image here"));
        QVERIFY(!init->paste());
        QVERIFY2(panel.statusText().contains(QStringLiteral("no image")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(12, 34));
    }

    // The read happens on the thread pool: loadFile returns at once with "loading…" in the info line and the old
    // image still shown; the UI thread keeps turning. A FIFO (which a reader would wait on forever) is refused.
    void initImageLoadsOffTheUiThread()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        fillForm(panel, model_, 2);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        init->setImage(pattern(16, 16), QStringLiteral("first"));
        const QString big = dir_.filePath(QStringLiteral("big.png"));
        QVERIFY(pattern(1500, 1000).save(big));

        QSignalSpy loaded(init, &GenerateInitImage::imageLoaded);
        init->loadFile(big);
        QVERIFY(init->isLoading());
        QCOMPARE(loaded.count(), 0);
        QCOMPARE(init->image().size(), QSize(16, 16));  // not decoded here
        QVERIFY2(init->infoText().contains(QStringLiteral("loading")), qPrintable(init->infoText()));
        QVERIFY(!panel.generate());  // nothing runs on a half-loaded form
        QVERIFY2(panel.statusText().contains(QStringLiteral("still loading")), qPrintable(panel.statusText()));
        QVERIFY(loaded.wait(20000));
        QVERIFY(loaded.first().first().toBool());
        QVERIFY(!init->isLoading());
        QCOMPARE(init->image().size(), QSize(1500, 1000));
        QVERIFY2(!init->infoText().contains(QStringLiteral("loading")), qPrintable(init->infoText()));

        // A FIFO with no writer: opening it to read would block for ever. Refused before anything opens it.
        const QString fifo = dir_.filePath(QStringLiteral("pipe.png"));
        QVERIFY(::mkfifo(QFile::encodeName(fifo).constData(), 0600) == 0);
        QElapsedTimer clock;
        clock.start();
        QVERIFY(!load(init, fifo));
        QVERIFY(clock.elapsed() < 10000);
        QVERIFY2(panel.statusText().contains(QStringLiteral("not a regular file")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(1500, 1000));
        QSignalSpy maskDone(init, &GenerateInitImage::maskLoaded);
        init->loadMask(fifo);
        QVERIFY(maskDone.count() == 1 || maskDone.wait(10000));
        QVERIFY(!maskDone.first().first().toBool());
        QVERIFY2(panel.statusText().contains(QStringLiteral("not a regular file")), qPrintable(panel.statusText()));

        // A mask asked for while its image still loads waits for it, and is scaled to it.
        const QString maskFile = dir_.filePath(QStringLiteral("half.png"));
        QVERIFY(leftHalfMask(20, 10).save(maskFile));
        QSignalSpy allDone(init, &GenerateInitImage::loadingFinished);
        QSignalSpy maskLoaded(init, &GenerateInitImage::maskLoaded);
        init->loadFile(big);
        init->loadMask(maskFile);
        QVERIFY(init->isLoading());
        QVERIFY(allDone.wait(20000));
        QCOMPARE(maskLoaded.count(), 1);
        QVERIFY2(maskLoaded.first().first().toBool(), qPrintable(panel.statusText()));
        QCOMPARE(init->mask().size(), QSize(1500, 1000));
        QCOMPARE(int(init->mask().constScanLine(500)[700]), 255);
        QCOMPARE(int(init->mask().constScanLine(500)[800]), 0);
    }

    // Dropped and pasted image data goes through the same checks as a file; what fails keeps the old image.
    void dropAndPasteCheckImageData()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        init->setImage(pattern(40, 24), QStringLiteral("kept"));
        // As a drag does it: the drop goes to the widget that accepted the drag's entry.
        auto drop = [init](QMimeData* data) {
            QDragEnterEvent enter(QPoint(5, 5), Qt::CopyAction, data, Qt::LeftButton, Qt::NoModifier);
            QApplication::sendEvent(init, &enter);
            QVERIFY(enter.isAccepted());
            QDropEvent e(QPointF(5, 5), Qt::CopyAction, data, Qt::LeftButton, Qt::NoModifier);
            QApplication::sendEvent(init, &e);
        };

        // Image data that is no image: the current image stays, and the panel says why.
        QMimeData notImage;
        notImage.setImageData(QVariant(QStringLiteral("not an image")));
        drop(&notImage);
        QVERIFY2(panel.statusText().contains(QStringLiteral("not an image")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));
        QVERIFY(init->hasImage());

        // PNG bytes that do not decode (as another program would offer them).
        QMimeData junk;
        junk.setData(QStringLiteral("image/png"), QByteArray("\x89PNG not really"));
        QVERIFY(!loadAndWait(init, [&] { drop(&junk); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("Could not read")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // Too large, as bytes (refused from the header) and as an image object; dropped and pasted.
        QMimeData hugeBytes;
        hugeBytes.setData(QStringLiteral("image/bmp"), hugeBmpHeader());
        QVERIFY(!loadAndWait(init, [&] { drop(&hugeBytes); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));
        const QImage hugeImage(12000, 9000, QImage::Format_Mono);  // 108 MP in 13 MB
        QVERIFY(!hugeImage.isNull());
        QMimeData hugeObject;
        hugeObject.setImageData(hugeImage);
        panel.setStrength(0.5);  // any other message
        QVERIFY(!loadAndWait(init, [&] { drop(&hugeObject); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));
        QApplication::clipboard()->setImage(hugeImage);
        QVERIFY(!loadAndWait(init, [&] { init->paste(); }));
        QVERIFY2(panel.statusText().contains(QStringLiteral("megapixels")), qPrintable(panel.statusText()));
        QCOMPARE(init->image().size(), QSize(40, 24));

        // Good PNG bytes are decoded and taken.
        QByteArray png;
        {
            QBuffer buffer(&png);
            QVERIFY(buffer.open(QIODevice::WriteOnly));
            QVERIFY(pattern(22, 18).save(&buffer, "PNG"));
        }
        QMimeData good;
        good.setData(QStringLiteral("image/png"), png);
        QVERIFY(loadAndWait(init, [&] { drop(&good); }));
        QCOMPARE(init->image().size(), QSize(22, 18));
    }

    // A1111 flattens an init image with alpha onto white; the colour under transparent pixels never reaches the
    // model. A mask file with a non-flat alpha uses the alpha (opaque = repaint), as kiln-cli does.
    void transparencyFlattensOntoWhiteAndAlphaMasks()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        fillForm(panel, model_, 2);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        GenerateInitImage* init = panel.initImage();
        QImage rgba(4, 2, QImage::Format_ARGB32);
        rgba.fill(qRgba(10, 200, 30, 255));
        rgba.setPixel(0, 0, qRgba(255, 0, 0, 0));    // red, fully transparent
        rgba.setPixel(1, 0, qRgba(0, 0, 0, 0));      // black, fully transparent
        rgba.setPixel(2, 0, qRgba(0, 0, 255, 128));  // blue, half
        auto check = [&](const char* how) {
            const auto c = panel.config();
            QVERIFY2(c.initRgb.size() == 4 * 2 * 3, how);
            auto px = [&](int x, int y) {
                const std::size_t at = (std::size_t(y) * 4 + x) * 3;
                return QColor(c.initRgb[at], c.initRgb[at + 1], c.initRgb[at + 2]).name();
            };
            QVERIFY2(px(0, 0) == QStringLiteral("#ffffff"), qPrintable(QString::fromLatin1(how) + px(0, 0)));
            QVERIFY2(px(1, 0) == QStringLiteral("#ffffff"), qPrintable(QString::fromLatin1(how) + px(1, 0)));
            QVERIFY2(px(2, 0) == QColor(127, 127, 255).name(), qPrintable(QString::fromLatin1(how) + px(2, 0)));
            QVERIFY2(px(3, 1) == QColor(10, 200, 30).name(), qPrintable(QString::fromLatin1(how) + px(3, 1)));
        };
        init->setImage(rgba, QStringLiteral("set"));
        check("setImage: ");
        const QString file = dir_.filePath(QStringLiteral("alpha.png"));
        QVERIFY(rgba.save(file));
        init->setImage(pattern(8, 8), QStringLiteral("other"));
        QVERIFY2(load(init, file), qPrintable(panel.statusText()));
        check("loadFile: ");

        // Black everywhere, opaque on the left half: grey levels would be an empty mask; the alpha is the mask.
        QImage alphaMask(4, 2, QImage::Format_ARGB32);
        alphaMask.fill(qRgba(0, 0, 0, 0));
        for (int y = 0; y < 2; ++y)
            for (int x = 0; x < 2; ++x) alphaMask.setPixel(x, y, qRgba(0, 0, 0, 255));
        const QString maskFile = dir_.filePath(QStringLiteral("alpha-mask.png"));
        QVERIFY(alphaMask.save(maskFile));
        panel.setMode(GeneratePanel::Mode::Inpaint);
        QSignalSpy maskDone(init, &GenerateInitImage::maskLoaded);
        init->loadMask(maskFile);
        QVERIFY(maskDone.wait(20000));
        QVERIFY2(maskDone.first().first().toBool(), qPrintable(panel.statusText()));
        auto c = panel.config();
        QCOMPARE(c.mask, (std::vector<std::uint8_t>{255, 255, 0, 0, 255, 255, 0, 0}));

        // Flat alpha (an opaque black-and-white mask saved as RGBA): the grey levels are the mask.
        QImage flat(4, 2, QImage::Format_ARGB32);
        flat.fill(qRgba(0, 0, 0, 255));
        flat.setPixel(3, 0, qRgba(255, 255, 255, 255));
        QVERIFY(flat.save(maskFile));
        maskDone.clear();
        init->loadMask(maskFile);
        QVERIFY(maskDone.wait(20000));
        QVERIFY(maskDone.first().first().toBool());
        c = panel.config();
        QCOMPARE(c.mask, (std::vector<std::uint8_t>{0, 0, 0, 255, 0, 0, 0, 0}));
    }

    // A gallery image becomes the init image: the mode switches and its parameters come back.
    void sendToImg2imgFromGallery()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.show();
        fillForm(panel, model_, 2);
        const QImage made = runToImage(panel);
        QVERIFY(!made.isNull());
        // The finished image stays in the preview, whatever step preview came late.
        QCOMPARE(panel.previewLabel()->pixmap().toImage().convertToFormat(QImage::Format_RGB32),
                 made.scaled(320, 320, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                     .convertToFormat(QImage::Format_RGB32));
        panel.setSeed(7);
        panel.setSteps(9);
        panel.sendToInit(0, GeneratePanel::Mode::Img2Img);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Img2Img);
        QVERIFY(panel.initImage()->isVisible());
        QCOMPARE(panel.initImage()->image().convertToFormat(QImage::Format_RGB888), made);
        QCOMPARE(panel.seed(), qint64(42));
        QCOMPARE(panel.steps(), 2);
        QCOMPARE(panel.config().initWidth, 64);
        QVERIFY(!panel.initImage()->maskEditor()->canvas()->isEditable());

        panel.sendToInit(0, GeneratePanel::Mode::Inpaint);
        QCOMPARE(panel.mode(), GeneratePanel::Mode::Inpaint);
        QVERIFY(panel.initImage()->maskEditor()->canvas()->isEditable());
        QVERIFY(panel.initImage()->maskIsEmpty());
    }

    // End to end on the tiny model (needs the engine's img2img): the requested size comes back, and inpainting
    // keeps every pixel outside the mask.
    void img2imgAndInpaintOnTheTinyModel()
    {
        kiln::qt::EngineThread engine;
        GeneratePanel panel(engine);
        panel.resize(1100, 750);
        panel.show();
        fillForm(panel, model_, 4);
        panel.setMode(GeneratePanel::Mode::Img2Img);
        panel.initImage()->setImage(pattern(80, 48), QStringLiteral("pattern"));
        panel.setSize(64, 72);
        panel.setStrength(0.6);
        const QImage out = runToImage(panel);
        QVERIFY(!out.isNull());
        QCOMPARE(out.size(), QSize(64, 72));
        const QString first = panel.gallery()->item(0)->toolTip();
        auto params = kiln::diffusion::parseParameters(first.toStdString());
        QVERIFY2(params.ok() && params->find("Denoising strength"), qPrintable(first));
        QCOMPARE(QString::fromStdString(*params->find("Denoising strength")).toDouble(), 0.6);

        // Inpaint the left half of a 64x64 image at its own size, without blur: the right half comes back as it was.
        const QImage init = pattern(64, 64);
        panel.setMode(GeneratePanel::Mode::Inpaint);
        panel.initImage()->setImage(init, QStringLiteral("pattern"));
        panel.initImage()->maskEditor()->canvas()->setMask(leftHalfMask(64, 64));
        panel.setSize(64, 64);
        panel.setMaskBlur(0);
        panel.setStrength(1.0);
        const QImage painted = runToImage(panel);
        QVERIFY(!painted.isNull());
        QCOMPARE(painted.size(), QSize(64, 64));
        int changedLeft = 0;
        for (int y = 0; y < 64; ++y)
            for (int x = 0; x < 64; ++x) {
                if (x >= 32)
                    QVERIFY2(painted.pixel(x, y) == init.pixel(x, y),
                             qPrintable(QStringLiteral("(%1, %2) changed outside the mask: %3 -> %4")
                                            .arg(x)
                                            .arg(y)
                                            .arg(init.pixelColor(x, y).name(), painted.pixelColor(x, y).name())));
                else changedLeft += painted.pixel(x, y) != init.pixel(x, y);
            }
        QVERIFY2(changedLeft > 64 * 32 / 2, qPrintable(QString::number(changedLeft)));
        const QString infotext = panel.gallery()->item(1)->toolTip();
        QVERIFY2(infotext.contains(QStringLiteral("Mask blur: 0")), qPrintable(infotext));
    }

    void cleanupTestCase() { kiln::diffusion::clearGenerateModelCache(); }
};

QTEST_MAIN(TestGeneratePanelImg2Img)
#include "test_generate_panel_img2img.moc"
