// Copyright 2026 The Cascade Authors.
//
// How `cascade` shows the server's JSON to people: jobs as table rows or as
// a "field: value" sheet, workers as rows, and one line per stream event.
// Only what people read goes through here; --json prints the server's
// answers as they came.

#ifndef CASCADE_CLI_FORMAT_H_
#define CASCADE_CLI_FORMAT_H_

#include <string>
#include <string_view>

#include "boost/json.hpp"
#include "cli/sse.h"
#include "cli/table.h"

namespace cascade::cli {

// The string at `key` of `v` (an object); "" when `v` is no object, the key
// is missing, or its value is not a string.
std::string StringAt(const boost::json::value& v, std::string_view key);

// "2026-12-05T07:03:34.105Z" as "2026-12-05 07:03:34" (UTC, to the second);
// "" for "" or null; anything else as it is.
std::string ShortTime(std::string_view rfc3339);

// A table of jobs (the `Job` JSON of GET /jobs, the cancel and retry
// answers): ID, STATE, PROGRESS, ATTEMPTS, PRIORITY, TAGS, CREATED, NOTE
// (held, abort requested, the retry time, or the last error).
Table JobsTable(const boost::json::array& jobs);

// One job as "field: value" lines, for `cascade get`.
std::string JobSheet(const boost::json::object& job);

// "01J... queued (held)": a job's id and state in one line, for suspend,
// resume and abort.
std::string JobLine(const boost::json::object& job);

// A table of GET /workers' workers: NAME, STATUS, TAGS, JOBS, LAST SEEN, LEASE.
Table WorkersTable(const boost::json::array& workers);

// One stream event as a line for people (no "\n"):
//   07:03:39.073  01M92G7YYY3DBGHEBVJFXWQE1W  queued → render:dorender  claimed
//   07:03:40.102  01M92G7YYY3DBGHEBVJFXWQE1W  progress 40%
//   reset: the server no longer had the events missed; re-read the state
// Other events, or data that is not JSON, as "<type>: <data>".
std::string EventLine(const SseEvent& event);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_FORMAT_H_
