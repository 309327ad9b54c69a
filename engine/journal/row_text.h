// Copyright 2026 The Cascade Authors.
//
// How the journal's rows hold text: valid UTF-8 as a JSON string (readable in
// the file), other bytes as {"base64": "..."}, so nothing is lost to the
// JSON writer's replacement of invalid sequences. Shared by rows.cc
// (writing) and recovery.cc (reading).

#ifndef CASCADE_ENGINE_JOURNAL_ROW_TEXT_H_
#define CASCADE_ENGINE_JOURNAL_ROW_TEXT_H_

#include <boost/json.hpp>
#include <string_view>

namespace cascade::internal {

boost::json::value TextValue(std::string_view text);
void PutText(boost::json::object& row, std::string_view name, std::string_view text);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_JOURNAL_ROW_TEXT_H_
