#include "widgets/prompt_highlighter.h"

#include <QRegularExpression>

#include <algorithm>

namespace kiln::widgets {

PromptHighlighter::PromptHighlighter(QTextDocument* document) : QSyntaxHighlighter(document)
{
    up_.setForeground(QColor(0xd0, 0x70, 0x20));
    down_.setForeground(QColor(0x40, 0x80, 0xc0));
    weight_.setForeground(QColor(0xd0, 0x40, 0x40));
    weight_.setFontWeight(QFont::Bold);
    tag_.setForeground(QColor(0x9c, 0x4d, 0xcc));
    tag_.setFontItalic(true);
    breakWord_.setForeground(QColor(0x30, 0xa0, 0x60));
    breakWord_.setFontWeight(QFont::Bold);
}

void PromptHighlighter::highlightBlock(const QString& text)
{
    // Nesting depth carries across lines like the parser's does, so an unclosed "(" tints what follows.
    const int state = std::max(0, previousBlockState());
    int depth = state & 0xffff;
    int down = state >> 16;
    for (int i = 0; i < text.size(); ++i) {
        const QChar ch = text.at(i);
        if (ch == QLatin1Char('\\')) {
            ++i;  // \( and \[ are literal characters
            continue;
        }
        if (ch == QLatin1Char('(')) ++depth;
        else if (ch == QLatin1Char(')') && depth > 0) --depth;
        else if (ch == QLatin1Char('[')) ++down;
        else if (ch == QLatin1Char(']') && down > 0) --down;
        else if (depth > 0) setFormat(i, 1, up_);
        else if (down > 0) setFormat(i, 1, down_);
        if (ch == QLatin1Char('(') || ch == QLatin1Char(')')) setFormat(i, 1, up_);
        if (ch == QLatin1Char('[') || ch == QLatin1Char(']')) setFormat(i, 1, down_);
    }
    static const QRegularExpression weight(QStringLiteral(R"(:\s*-?[0-9]*\.?[0-9]+\s*(?=\)))"));
    for (auto it = weight.globalMatch(text); it.hasNext();) {
        const auto m = it.next();
        setFormat(static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()), weight_);
    }
    static const QRegularExpression tag(QStringLiteral(R"(<[A-Za-z_]+:[^>]*>)"));
    for (auto it = tag.globalMatch(text); it.hasNext();) {
        const auto m = it.next();
        setFormat(static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()), tag_);
    }
    static const QRegularExpression breakRe(QStringLiteral(R"(\bBREAK\b)"));
    for (auto it = breakRe.globalMatch(text); it.hasNext();) {
        const auto m = it.next();
        setFormat(static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()), breakWord_);
    }
    setCurrentBlockState(depth | (down << 16));
}

}  // namespace kiln::widgets
