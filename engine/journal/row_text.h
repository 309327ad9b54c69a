// Copyright 2026 The Cascade Authors.
//
// How the journal's rows hold text: valid UTF-8 as a JSON string (readable in
// the file), other bytes as {"base64": "..."}, so nothing is lost to the
// JSON writer's replacement of invalid sequences. rows.cc writes text this
// way; recovery.cc reads both forms back (RowReader::Text).

#ifndef CASCADE_ENGINE_JOURNAL_ROW_TEXT_H_
#define CASCADE_ENGINE_JOURNAL_ROW_TEXT_H_

#include <string_view>

#include "wire/json.h"

namespace cascade::internal {

// The text as a value (in an array, or after a key).
void TextValue(wire::JsonWriter& w, std::string_view text);
// `name` and the text, a member of the object being written.
void PutText(wire::JsonWriter& w, std::string_view name, std::string_view text);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_JOURNAL_ROW_TEXT_H_
