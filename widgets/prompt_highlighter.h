// Colours A1111's prompt syntax as it is typed: (word:1.2) and ((word)) emphasis, [word] de-emphasis and
// <lora:name:0.8>-style extra-network tags, so a person sees what the parser will weight before generating.
#pragma once

#include <QSyntaxHighlighter>
#include <QTextCharFormat>

class QTextDocument;

namespace kiln::widgets {

class PromptHighlighter : public QSyntaxHighlighter {
    Q_OBJECT
public:
    explicit PromptHighlighter(QTextDocument* document);

protected:
    void highlightBlock(const QString& text) override;

private:
    QTextCharFormat up_, down_, weight_, tag_, breakWord_;
};

}  // namespace kiln::widgets
