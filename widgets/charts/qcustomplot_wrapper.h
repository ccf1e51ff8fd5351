// The one place that includes qcustomplot.h. Every Kiln target builds with QT_NO_KEYWORDS and
// QT_NO_FOREACH, and qcustomplot.h uses bare `signals`, `slots` and `foreach`. Q_FOREACH does
// not exist under QT_NO_FOREACH, so `foreach` becomes a range-for (its two uses iterate const
// member lists, so nothing detaches). Include it only from .cpp files: it costs ~12 s to parse.
#pragma once

#include <QtGlobal>

#pragma push_macro("signals")
#pragma push_macro("slots")
#pragma push_macro("foreach")
#undef signals
#undef slots
#undef foreach
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define foreach(decl, container) for (decl : container)
#include <qcustomplot.h>
#pragma pop_macro("foreach")
#pragma pop_macro("slots")
#pragma pop_macro("signals")
