#include "kiln/result.h"

namespace kiln {

std::string Error::message() const
{
    std::string out;
    if (!where.empty()) out += where + ": ";
    out += what;
    if (!hint.empty()) out += " (" + hint + ")";
    return out;
}

Error makeError(std::string what, std::string where, std::string hint)
{
    return Error{std::move(what), std::move(where), std::move(hint)};
}

}  // namespace kiln
