// Copyright 2026 The Cascade Authors.
//
// Placeholders: reading them from the config and filling them from a claim.

#include "worker/placeholders.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::worker {
namespace {

namespace json = boost::json;
using wire::Sv;

std::string_view View(const json::string& s) { return {s.data(), s.size()}; }

absl::Status Bad(std::string_view text, size_t at, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("\"", Sv(text), "\": ", Sv(why), " (at byte ", at,
                                                 "; write {{ or }} for a brace)"));
}

// Reads the name between the braces of one placeholder.
absl::StatusOr<Segment> ReadPlaceholder(std::string_view text, size_t at, std::string_view name) {
  Segment s;
  using Kind = Segment::Kind;
  if (name == "id") {
    s.kind = Kind::kId;
  } else if (name == "output") {
    s.kind = Kind::kOutput;
  } else if (name == "template") {
    s.kind = Kind::kTemplate;
  } else if (name == "composition") {
    s.kind = Kind::kComposition;
  } else if (name == "children") {
    s.kind = Kind::kChildren;
  } else if (name.starts_with("children:")) {
    s.kind = Kind::kChildrenJoined;
    s.text = std::string(name.substr(9));
  } else if (name.starts_with("child:")) {
    s.kind = Kind::kChild;
    s.text = std::string(name.substr(6));
    if (s.text.empty()) return Bad(text, at, "{child:LAYER} needs a layer name");
  } else if (name.starts_with("settings.") || name.starts_with("payload.")) {
    const bool settings = name.front() == 's';
    s.kind = settings ? Kind::kSettings : Kind::kPayload;
    std::string_view path = name.substr(settings ? 9 : 8);
    for (absl::string_view part : absl::StrSplit(Sv(path), '.')) {
      if (part.empty()) {
        return Bad(text, at, absl::StrCat("{", Sv(name), "} has an empty path segment"));
      }
      s.path.emplace_back(part);
    }
  } else {
    return Bad(text, at,
               absl::StrCat("unknown placeholder {", Sv(name),
                            "} (known: {id}, {output}, {template}, {composition}, "
                            "{settings.PATH}, {payload.PATH}, {children}, {children:SEP}, "
                            "{child:LAYER})"));
  }
  return s;
}

// The value at `path` under `root`, or an error naming the first segment
// that is missing.
absl::StatusOr<const json::value*> Lookup(const json::value& root,
                                          const std::vector<std::string>& path,
                                          std::string_view root_name) {
  const json::value* v = &root;
  std::string where(root_name);
  for (const std::string& key : path) {
    size_t index = 0;
    if (const json::object* o = v->if_object()) {
      v = o->if_contains(key);
    } else if (v->is_array() && absl::SimpleAtoi(key, &index)) {
      const json::array& a = v->get_array();
      v = index < a.size() ? &a[index] : nullptr;
    } else {
      v = nullptr;
    }
    absl::StrAppend(&where, ".", key);
    if (v == nullptr) return absl::NotFoundError(absl::StrCat(where, " is not in the job"));
  }
  if (v->is_null()) return absl::NotFoundError(absl::StrCat(where, " is null"));
  return v;
}

absl::StatusOr<std::string> ValueText(const json::value& root, const std::vector<std::string>& path,
                                      std::string_view root_name) {
  absl::StatusOr<const json::value*> v = Lookup(root, path, root_name);
  if (!v.ok()) return v.status();
  if (const json::string* s = (*v)->if_string()) return std::string(View(*s));
  return wire::WriteJson(**v);  // numbers, booleans, objects, arrays
}

absl::StatusOr<std::vector<std::string>> ChildPaths(const JobFacts& facts) {
  if (!facts.children.has_value()) {
    return absl::FailedPreconditionError(
        "the server's claim answer does not list the outputs of the job's children (a server "
        "without contract §15's claim \"children\"?)");
  }
  std::vector<std::string> paths;
  paths.reserve(facts.children->size());
  for (const ChildOutput& child : *facts.children) {
    absl::StatusOr<std::string> path = FileUrlToPath(child.output_url);
    if (!path.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("child ", child.id, "'s outputUrl: ", path.status().message()));
    }
    paths.push_back(*std::move(path));
  }
  return paths;
}

// Fills one segment (not a whole {children}).
absl::StatusOr<std::string> FillSegment(const Segment& s, const JobFacts& facts) {
  using Kind = Segment::Kind;
  switch (s.kind) {
    case Kind::kLiteral:
      return s.text;
    case Kind::kId:
      return facts.id;
    case Kind::kOutput: {
      absl::StatusOr<std::string> path = FileUrlToPath(facts.output_url);
      if (!path.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("{output}: the job's outputUrl: ", path.status().message()));
      }
      return path;
    }
    case Kind::kTemplate:
      if (!facts.template_id.has_value()) {
        return absl::FailedPreconditionError("{template}: the job has no template id");
      }
      return *facts.template_id;
    case Kind::kComposition: {
      absl::StatusOr<const json::value*> v =
          Lookup(facts.payload, {"template", "composition"}, "payload");
      if (!v.ok() || !(*v)->is_string()) {
        return absl::FailedPreconditionError(
            "{composition}: the job has no template.composition string");
      }
      return std::string(View((*v)->get_string()));
    }
    case Kind::kSettings:
    case Kind::kPayload: {
      const bool settings = s.kind == Kind::kSettings;
      std::vector<std::string> path = s.path;
      if (settings) path.insert(path.begin(), "settings");
      absl::StatusOr<std::string> text = ValueText(facts.payload, path, "payload");
      if (!text.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("{", settings ? "settings." : "payload.",
                                                          absl::StrJoin(s.path, "."),
                                                          "}: ", text.status().message()));
      }
      return text;
    }
    case Kind::kChildren:
    case Kind::kChildrenJoined: {
      absl::StatusOr<std::vector<std::string>> paths = ChildPaths(facts);
      if (!paths.ok()) return paths.status();
      return absl::StrJoin(*paths, s.kind == Kind::kChildren ? " " : s.text);
    }
    case Kind::kChild: {
      if (!facts.children.has_value()) return ChildPaths(facts).status();
      for (const ChildOutput& child : *facts.children) {
        if (child.layer_name != s.text) continue;
        absl::StatusOr<std::string> path = FileUrlToPath(child.output_url);
        if (!path.ok()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "{child:", s.text, "}: child ", child.id, "'s outputUrl: ", path.status().message()));
        }
        return path;
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "{child:", s.text, "}: the job has no nested child with layerName \"", s.text, "\""));
    }
  }
  return absl::InternalError("unreachable");
}

absl::Status InElement(const absl::Status& status, size_t index, const Template& t) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot fill argv[", index, "] \"", t.source, "\": ", status.message()));
}

}  // namespace

absl::StatusOr<Template> ParseTemplate(std::string_view text) {
  Template t;
  t.source = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    t.segments.push_back({Segment::Kind::kLiteral, std::move(literal), {}});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return Bad(text, i, "a lone '}'");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    const size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) return Bad(text, i, "a '{' without its '}'");
    std::string_view name = text.substr(i + 1, close - i - 1);
    if (name.find('{') != std::string_view::npos) return Bad(text, i, "a '{' inside a placeholder");
    absl::StatusOr<Segment> segment = ReadPlaceholder(text, i, name);
    if (!segment.ok()) return segment.status();
    flush();
    t.segments.push_back(*std::move(segment));
    i = close;
  }
  flush();
  for (const Segment& s : t.segments) {
    if (s.kind != Segment::Kind::kChildren) continue;
    if (t.segments.size() != 1) {
      return Bad(text, 0,
                 "{children} must be a whole argument (it becomes one argument per child); "
                 "use {children:SEP} to join the paths into a longer one");
    }
    t.whole_children = true;
  }
  return t;
}

bool Uses(const Template& t, Segment::Kind kind) {
  for (const Segment& s : t.segments) {
    if (s.kind == kind) return true;
  }
  return false;
}

absl::StatusOr<std::string> FileUrlToPath(std::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError("the outputUrl is null");
  if (url.size() < 7 || !absl::EqualsIgnoreCase(Sv(url.substr(0, 7)), "file://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", Sv(url), "\" is not a file:// URL (cascade-worker writes local files)"));
  }
  std::string_view rest = url.substr(7);
  const size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (!host.empty() && !absl::EqualsIgnoreCase(Sv(host), "localhost")) {
    return absl::InvalidArgumentError(absl::StrCat("\"", Sv(url), "\" names host \"", Sv(host),
                                                   "\"; only local files can be written"));
  }
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", Sv(url), "\" has no file path"));
  }
  std::string_view encoded = rest.substr(slash);
  std::string path;
  path.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    int value = 0;
    if (encoded[i] == '%' && i + 2 < encoded.size() &&
        absl::ascii_isxdigit(static_cast<unsigned char>(encoded[i + 1])) &&
        absl::ascii_isxdigit(static_cast<unsigned char>(encoded[i + 2]))) {
      for (int k = 1; k <= 2; ++k) {
        const char h = absl::ascii_tolower(static_cast<unsigned char>(encoded[i + k]));
        value = value * 16 + (h <= '9' ? h - '0' : h - 'a' + 10);
      }
      if (value == 0) {
        return absl::InvalidArgumentError(absl::StrCat("\"", Sv(url), "\" holds %00"));
      }
      path += static_cast<char>(value);
      i += 2;
    } else {
      path += encoded[i];
    }
  }
  return path;
}

absl::StatusOr<JobFacts> ReadJobFacts(const json::object& claim) {
  const json::object* job = nullptr;
  if (const json::value* j = claim.if_contains("job")) job = j->if_object();
  if (job == nullptr) return absl::InvalidArgumentError("the claim answer has no \"job\" object");
  JobFacts facts;
  auto text = [&](std::string_view key, bool required, std::string* out) -> absl::StatusOr<bool> {
    const json::value* v = job->if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) return absl::InvalidArgumentError(absl::StrCat("job.", Sv(key), " is missing"));
      return false;
    }
    if (!v->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("job.", Sv(key), " is not a string"));
    }
    *out = std::string(View(v->get_string()));
    return true;
  };
  absl::StatusOr<bool> has = text("id", true, &facts.id);
  if (!has.ok()) return has.status();
  std::string template_id;
  has = text("templateId", false, &template_id);
  if (!has.ok()) return has.status();
  if (*has) facts.template_id = std::move(template_id);
  has = text("outputUrl", false, &facts.output_url);
  if (!has.ok()) return has.status();
  if (const json::value* p = claim.if_contains("payload")) facts.payload = *p;

  size_t child_ids = 0;
  if (const json::value* c = job->if_contains("children"); c != nullptr && c->is_array()) {
    child_ids = c->get_array().size();
  }
  const json::value* children = claim.if_contains("children");
  if (children == nullptr || children->is_null()) {
    if (child_ids == 0) facts.children.emplace();
    return facts;
  }
  if (!children->is_array()) return absl::InvalidArgumentError("children is not an array");
  // A list that does not match the job's children cannot say which output
  // is whose: as if there were none (filling a child placeholder fails).
  if (children->get_array().size() != child_ids) return facts;
  facts.children.emplace();
  for (const json::value& item : children->get_array()) {
    const json::object* o = item.if_object();
    if (o == nullptr) return absl::InvalidArgumentError("a child is not an object");
    ChildOutput child;
    if (const json::value* id = o->if_contains("id"); id != nullptr && id->is_string()) {
      child.id = std::string(View(id->get_string()));
    }
    if (const json::value* url = o->if_contains("outputUrl"); url != nullptr && url->is_string()) {
      child.output_url = std::string(View(url->get_string()));
    }
    if (const json::value* l = o->if_contains("layerName"); l != nullptr && l->is_string()) {
      child.layer_name = std::string(View(l->get_string()));
    }
    facts.children->push_back(std::move(child));
  }
  return facts;
}

absl::StatusOr<std::vector<std::string>> FillArgv(const std::vector<Template>& argv,
                                                  const JobFacts& facts) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (size_t i = 0; i < argv.size(); ++i) {
    const Template& t = argv[i];
    if (t.whole_children) {
      absl::StatusOr<std::vector<std::string>> paths = ChildPaths(facts);
      if (!paths.ok()) return InElement(paths.status(), i, t);
      for (std::string& path : *paths) out.push_back(std::move(path));
      continue;
    }
    absl::StatusOr<std::string> text = FillText(t, facts);
    if (!text.ok()) return InElement(text.status(), i, t);
    out.push_back(*std::move(text));
  }
  return out;
}

absl::StatusOr<std::string> FillText(const Template& t, const JobFacts& facts) {
  std::string out;
  for (const Segment& s : t.segments) {
    absl::StatusOr<std::string> piece = FillSegment(s, facts);
    if (!piece.ok()) return piece.status();
    out += *piece;
  }
  return out;
}

}  // namespace cascade::worker
