// How long the UI thread's event loop stood still: the tests that check a job never stalls the UI
// (< 50 ms) share this probe.
#pragma once

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTimer>

#include <algorithm>
#include <functional>

namespace kiln::testing {

// The longest gap between 5 ms timer ticks while `running` holds (at most 60 s). `ticksOut` gets the
// number of ticks seen; `eachTurn` runs after every turn of the loop.
inline qint64 longestStall(const std::function<bool()>& running, int* ticksOut = nullptr,
                           const std::function<void()>& eachTurn = {})
{
    QElapsedTimer clock, sinceLast;
    clock.start();
    sinceLast.start();
    qint64 worst = 0;
    int ticks = 0;
    QTimer probe;
    probe.setInterval(5);
    QObject::connect(&probe, &QTimer::timeout, [&] {
        worst = std::max(worst, sinceLast.restart());
        ++ticks;
    });
    probe.start();
    while (running() && clock.elapsed() < 60000) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        if (eachTurn) eachTurn();
    }
    if (ticksOut) *ticksOut = ticks;
    return worst;
}

}  // namespace kiln::testing
