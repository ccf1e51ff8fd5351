// The studio's copy of the system report, probed once as a job at start-up (probing Vulkan
// takes tens of milliseconds, too long for the UI thread).
#pragma once

#include "kiln/system_info.h"

#include <QObject>
#include <QStringList>
#include <optional>

namespace kiln::qt {
class EngineThread;
}

namespace kiln::app {

class SystemFacts : public QObject {
    Q_OBJECT
public:
    SystemFacts(kiln::qt::EngineThread& engine, const QString& preferredVulkanDevice, QObject* parent = nullptr);

    // Probes again, e.g. after the preferred Vulkan device changed.
    void probe(const QString& preferredVulkanDevice);

    bool ready() const { return report_.has_value(); }
    const std::optional<SystemReport>& report() const { return report_; }
    QStringList lines() const;  // Qt version first, then describeSystem()
    QString shortSummary() const;  // for the status bar

Q_SIGNALS:
    void reportReady();

private:
    kiln::qt::EngineThread& engine_;
    std::optional<SystemReport> report_;
};

}  // namespace kiln::app
