// Copyright 2026 The Cascade Authors.
//
// cascade-worker's placeholders: the `{...}` fields of a command's argv (and
// of its env values and progressTotal) read once from the config
// (ParseTemplate) and filled per job from what the claim answered
// (FillArgv, FillText). Each argv element is filled on its own and never
// re-split: a filled value is one argument whatever it holds (spaces,
// quotes, `$(...)`), and nothing runs a shell.
//
// Example:
//
//   absl::StatusOr<Template> out = ParseTemplate("-o={output}");
//   JobFacts facts = ...;  // from the claim: ReadJobFacts(claim_json)
//   absl::StatusOr<std::vector<std::string>> argv = FillArgv({*ffmpeg, *out}, facts);
//
// The placeholders (docs/workers.md, "cascade-worker", is the user's view):
//   {id}              the job id
//   {output}          the file path of the job's outputUrl, which must be a
//                     file:// URL (file:///p or file://localhost/p; %XX decoded)
//   {template}        the job's template id
//   {composition}     the payload's template.composition
//   {settings.PATH}   a field of the payload's `settings` object
//   {payload.PATH}    any field of the payload (the job's creation body)
//                     PATH: keys separated by '.'; a segment of digits
//                     indexes an array. Strings are filled raw, numbers and
//                     booleans as JSON, objects and arrays as compact JSON;
//                     null or a missing field cannot be filled.
//   {children}        the file paths of the job's nested children's outputs,
//                     in the order of its nested assets: ONLY as a whole argv
//                     element, which then becomes one element per child (none
//                     for a job without children)
//   {children:SEP}    the same paths joined with SEP into the text (SEP is any
//                     text without '}'; "concat:{children:|}")
//   {child:LAYER}     the output path of the child whose layerName is LAYER
//                     (the first one, if several share it)
//   {{ and }}         a literal '{' and '}'
// Anything else in braces, a lone '{' or '}', or `{children}` inside a longer
// element is refused by ParseTemplate (a config error). What cannot be
// filled for one job (no such setting, an outputUrl that is not file://, no
// child with that layer, ...) is an error of FillArgv/FillText naming the
// argument and why: the agent fails such a job with "retry": false.

#ifndef CASCADE_WORKER_PLACEHOLDERS_H_
#define CASCADE_WORKER_PLACEHOLDERS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json.hpp"

namespace cascade::worker {

// One piece of a template: literal text or a placeholder.
struct Segment {
  enum class Kind {
    kLiteral,         // text
    kId,              // {id}
    kOutput,          // {output}
    kTemplate,        // {template}
    kComposition,     // {composition}
    kSettings,        // {settings.PATH}: path
    kPayload,         // {payload.PATH}: path
    kChildren,        // {children}: the whole element
    kChildrenJoined,  // {children:SEP}: text = SEP
    kChild,           // {child:LAYER}: text = LAYER
  };
  Kind kind = Kind::kLiteral;
  std::string text;
  std::vector<std::string> path;
};

// An argv element, env value or progressTotal, as written in the config.
struct Template {
  std::string source;  // the text as written, for error messages
  std::vector<Segment> segments;
  // The element is exactly "{children}": FillArgv expands it to one element
  // per child.
  bool whole_children = false;
};

// Reads `text`. InvalidArgument saying what is wrong (and at which byte) for
// an unknown placeholder, an empty PATH or PATH segment, an unbalanced brace,
// or `{children}` inside a longer text.
[[nodiscard]] absl::StatusOr<Template> ParseTemplate(std::string_view text);

// What a job's placeholders are filled from, read from the claim answer.
struct ChildOutput {
  std::string id;
  std::string output_url;                 // empty when the server sent null
  std::optional<std::string> layer_name;  // null for a child without one
};
struct JobFacts {
  std::string id;
  std::optional<std::string> template_id;
  std::string output_url;  // empty when null
  boost::json::value payload;
  // The claim's "children", in the order of the nested assets; nullopt when
  // the answer had none, or not one per child of the job, although the job
  // has children (an older server).
  std::optional<std::vector<ChildOutput>> children;
};

// Reads the claim answer {"job": Job, "lease", "payload", "children"}.
// InvalidArgument when job.id is missing or a field has the wrong type.
[[nodiscard]] absl::StatusOr<JobFacts> ReadJobFacts(const boost::json::object& claim);

// The path of a file:// URL: "file:///a/b%20c" and "file://localhost/a/b%20c"
// are "/a/b c". InvalidArgument for another scheme, another host, an empty
// path or a %XX that decodes to NUL.
[[nodiscard]] absl::StatusOr<std::string> FileUrlToPath(std::string_view url);

// Fills every element; a whole `{children}` element becomes one element per
// child. FailedPrecondition naming the element (by its index and source)
// and the reason when a placeholder cannot be filled for this job.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> FillArgv(const std::vector<Template>& argv,
                                                                const JobFacts& facts);

// Fills one text (an env value, a progressTotal). A whole `{children}` is
// refused by the config before this is called; here it fills the paths
// joined by a space. Errors as FillArgv.
[[nodiscard]] absl::StatusOr<std::string> FillText(const Template& text, const JobFacts& facts);

// True if any segment of `t` is `kind`.
bool Uses(const Template& t, Segment::Kind kind);

}  // namespace cascade::worker

#endif  // CASCADE_WORKER_PLACEHOLDERS_H_
