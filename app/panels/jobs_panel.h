// The Jobs dock: the queue with state, progress, elapsed time, ETA, and Cancel.
#pragma once

#include <QWidget>

class QTableView;
class QPushButton;

namespace kiln::app {

class JobsModel;

class JobsPanel : public QWidget {
    Q_OBJECT
public:
    explicit JobsPanel(JobsModel& model, QWidget* parent = nullptr);

private:
    void updateButtons();
    JobsModel& model_;
    QTableView* view_;
    QPushButton* cancel_;
    QPushButton* clear_;
};

}  // namespace kiln::app
