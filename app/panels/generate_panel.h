// Generate: Stable Diffusion txt2img, img2img and inpainting with A1111's samplers and prompt syntax. Each
// Generate queues a job on the engine thread (several may wait); the preview follows the sampler step by step;
// finished images land in a gallery from which they are saved as PNGs carrying A1111's `parameters` text, so
// A1111, ComfyUI viewers and Kiln itself (drop the PNG on the panel) read back what made them. A gallery image
// can be sent back as the init image of img2img or inpainting (generate_init_image.h holds that part).
//
// Settings (QSettings): generate/modelPath, generate/tokenizerDir, generate/vaePath. A single-file checkpoint
// needs a CLIP tokenizer (vocab.json + merges.txt): Kiln uses the folder given here, else a tokenizer/ folder
// beside the file; a diffusers folder brings its own tokenizer/.
#pragma once

#include "diffusion/png_parameters.h"
#include "kiln/generate.h"
#include "panels/generate_progress.h"
#include "qt/job_handle.h"

#include <QImage>
#include <QList>
#include <QPointer>
#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QListWidgetItem;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QTabBar;

namespace kiln::qt {
class EngineThread;
}

namespace kiln::app {

class GenerateInitImage;

class GeneratePanel : public QWidget {
    Q_OBJECT
public:
    // The tab order of the mode selector; the ids "txt2img", "img2img", "inpaint" name them on the command line.
    enum class Mode { Txt2Img, Img2Img, Inpaint };

    explicit GeneratePanel(kiln::qt::EngineThread& engine, QWidget* parent = nullptr);

    // From the form. In img2img and inpaint modes it carries the init image (converted once, RGB32 -> RGB bytes)
    // and the mask; generate() moves it into the job rather than copying it again.
    kiln::diffusion::GenerateJobConfig config() const;
    void setModelPath(const QString& path);
    void setTokenizerDir(const QString& dir);
    void setVaePath(const QString& path);  // empty: the model's own VAE
    void setPrompt(const QString& prompt, const QString& negative = {});
    void setSeed(qint64 seed);
    qint64 seed() const;
    void setSize(int width, int height);
    void setSteps(int steps);
    int steps() const;
    QString prompt() const;

    void setMode(Mode mode);
    Mode mode() const;
    static bool modeFromId(const QString& id, Mode* mode);
    void setStrength(double strength);  // A1111's Denoising strength, 0..1
    void setMaskBlur(int pixels);
    GenerateInitImage* initImage() const { return init_; }
    // Puts a gallery image in the init image, switches to img2img or Inpaint and reuses its parameters.
    void sendToInit(int row, Mode mode);

    // Queues a job with the form's settings; nullptr (and a message in the panel) when the form cannot run.
    kiln::qt::JobHandle* generate();
    void cancel();  // the running job and every queued one
    kiln::qt::JobHandle* lastJob() const { return lastJob_.data(); }

    // Fills the form from generation parameters (A1111 or ComfyUI, as read from a PNG).
    void applyParameters(const kiln::diffusion::GenerationParameters& p);
    // What the drop handler does: reads the PNG's text chunks and restores the form. False with a message
    // shown in the panel when the file has none or cannot be read.
    bool restoreFromPng(const QString& path);
    // Saves a gallery image as PNG with its `parameters` text, atomically. False with a message on failure.
    bool saveImage(int row, const QString& path);
    QListWidget* gallery() const { return gallery_; }
    QLabel* previewLabel() const { return preview_; }
    QString statusText() const;
    QString progressText() const;  // "step 5/20 · 1.2 s/step · ETA 0:18" while a job samples

Q_SIGNALS:
    void statusMessage(const QString& text);
    void imageAdded(int row);

protected:
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    void addImage(const QImage& image, const kiln::diffusion::GenerationParameters& params,
                  const QStringList& notices);
    void showPreview(const kiln::Preview& preview);
    void showImageInPreview(const QImage& image);
    void showMessage(const QString& text);
    void openLarger(QListWidgetItem* item);
    void galleryMenu(const QPoint& pos);
    void updateButtons();
    void rememberPaths();
    void modeChanged();

    kiln::qt::EngineThread& engine_;
    QList<QPointer<kiln::qt::JobHandle>> jobs_;  // queued or running
    QPointer<kiln::qt::JobHandle> lastJob_;
    qint64 lastSeed_ = -1;
    QImage lastImage_;  // the newest finished image

    QLineEdit* modelPath_;
    QLineEdit* tokenizerDir_;
    QLineEdit* vaePath_;
    QPlainTextEdit* prompt_;
    QPlainTextEdit* negative_;
    QComboBox* sampler_;
    QComboBox* schedule_;
    QSpinBox* steps_;
    QDoubleSpinBox* cfg_;
    QLineEdit* seed_;
    QSpinBox* width_;
    QSpinBox* height_;
    QSpinBox* batch_;
    QSpinBox* batchCount_;
    QTabBar* mode_;
    QSlider* strengthSlider_;
    QDoubleSpinBox* strength_;
    QSpinBox* maskBlur_;
    GenerateInitImage* init_;
    QWidget* formBox_;
    StepEta eta_;
    QPushButton* generate_;
    QPushButton* cancel_;
    QProgressBar* progress_;
    QLabel* status_;
    QLabel* preview_;
    QListWidget* gallery_;
};

}  // namespace kiln::app
