#include "system_facts.h"

#include "qt/engine_thread.h"

#include <QtGlobal>
#include <memory>

namespace kiln::app {

SystemFacts::SystemFacts(kiln::qt::EngineThread& engine, const QString& preferredVulkanDevice, QObject* parent)
    : QObject(parent), engine_(engine)
{
    probe(preferredVulkanDevice);
}

void SystemFacts::probe(const QString& preferredVulkanDevice)
{
    auto out = std::make_shared<SystemReport>();
    const std::string preferred = preferredVulkanDevice.toStdString();
    auto* job = engine_.submit(
        tr("Probe compute devices"),
        [out, preferred](JobContext&) -> Result<void> {
            *out = probeSystem(preferred);
            return success();
        });
    connect(job, &kiln::qt::JobHandle::finished, this, [this, out](JobState s) {
        if (s == JobState::Succeeded) {
            report_ = *out;
            Q_EMIT reportReady();
        }
    });
}

QStringList SystemFacts::lines() const
{
    QStringList l{QStringLiteral("Qt %1 (built with %2)").arg(QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR))};
    if (!report_) {
        l << tr("Probing compute devices…");
        return l;
    }
    for (const auto& line : describeSystem(*report_)) l << QString::fromStdString(line);
    return l;
}

QString SystemFacts::shortSummary() const
{
    if (!report_) return tr("Probing devices…");
    const auto& r = *report_;
    QString blas = QString::fromStdString(r.blas.name).section(QLatin1Char(' '), 0, 1);
    if (r.blas.slowReference) blas = tr("reference BLAS (slow)");
    QString vk = tr("no Vulkan device");
    for (const auto& d : r.vulkan.devices)
        if (d.index == r.vulkan.selected) vk = QStringLiteral("Vulkan: %1").arg(QString::fromStdString(d.name));
    const QString threads = r.torchThreads == 1 ? tr("1 thread") : tr("%1 threads").arg(r.torchThreads);
    return tr("CPU: %1 · %2 · %3").arg(threads, blas, vk);
}

}  // namespace kiln::app
