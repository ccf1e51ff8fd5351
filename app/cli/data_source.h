// What `--data SOURCE` means to every kiln-cli command that reads a dataset.
#pragma once

#include "kiln/train_config.h"

#include <filesystem>
#include <string>

namespace kiln::cli {

// fashion-mnist (the Debian package), a folder (one subfolder per class) or a text file.
inline void setDataSource(kiln::train::DataConfig& data, const std::string& source)
{
    if (source == "fashion-mnist" || source == "fashion_mnist") {
        data.kind = kiln::train::DatasetKind::FashionMnist;
    } else {
        data.kind = std::filesystem::is_directory(source) ? kiln::train::DatasetKind::ImageFolder : kiln::train::DatasetKind::Text;
        data.path = source;
    }
}

}  // namespace kiln::cli
