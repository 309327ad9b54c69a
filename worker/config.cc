// Copyright 2026 The Cascade Authors.
//
// Reading cascade-worker's config file (worker/config.h has the format).

#include "worker/config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::worker {
namespace {

namespace json = boost::json;

using wire::Sv;

// Abseil's string_view (Debian's is its own type, wire/strings.h).
absl::string_view View(const json::string& s) { return {s.data(), s.size()}; }
std::string_view StdView(const json::string& s) { return {s.data(), s.size()}; }

// Every problem found, each as "<field>: <why>".
class Problems {
 public:
  void Add(absl::string_view field, absl::string_view why) {
    lines_.push_back(absl::StrCat(field, ": ", why));
  }
  bool empty() const { return lines_.empty(); }
  absl::Status ToStatus(absl::string_view source) const {
    std::vector<std::string> out;
    out.reserve(lines_.size());
    for (const std::string& line : lines_) out.push_back(absl::StrCat(source, ": ", line));
    return absl::InvalidArgumentError(absl::StrJoin(out, "\n"));
  }

 private:
  std::vector<std::string> lines_;
};

bool IsTemplateId(std::string_view key) {
  if (key.size() != 26) return false;
  for (char c : key) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        !absl::ascii_isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name.front()))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

void RejectUnknown(const json::object& o, std::initializer_list<absl::string_view> known,
                   absl::string_view where, Problems& problems) {
  for (const auto& kv : o) {
    bool ok = false;
    for (absl::string_view k : known) ok |= k == View(kv.key());
    if (!ok) {
      problems.Add(absl::StrCat(where, where.empty() ? "" : ".", View(kv.key())),
                   absl::StrCat("unknown field (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
}

// A text template in a place where {children} cannot become several values.
std::optional<Template> ReadTextTemplate(const json::value& v, const std::string& where,
                                         Problems& problems) {
  if (!v.is_string()) {
    problems.Add(where, absl::StrCat("must be a string, not ", wire::KindName(v)));
    return std::nullopt;
  }
  absl::StatusOr<Template> t = ParseTemplate(StdView(v.get_string()));
  if (!t.ok()) {
    problems.Add(where, t.status().message());
    return std::nullopt;
  }
  if (t->whole_children) {
    problems.Add(where, "{children} is one argument per child, so it is only allowed in argv");
    return std::nullopt;
  }
  return *std::move(t);
}

CommandConfig ReadCommand(const json::object& c, const std::string& where, Problems& problems) {
  CommandConfig command;
  RejectUnknown(c, {"argv", "env", "progress", "progressTotal", "finalExitCodes"}, where, problems);

  const std::string argv_where = absl::StrCat(where, ".argv");
  const json::value* argv = c.if_contains("argv");
  if (argv == nullptr) {
    problems.Add(argv_where, "is required (the program and its arguments)");
  } else if (!argv->is_array() || argv->get_array().empty()) {
    problems.Add(argv_where, "must be a non-empty array of strings");
  } else {
    const json::array& items = argv->get_array();
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string item_where = absl::StrCat(argv_where, "[", i, "]");
      if (!items[i].is_string()) {
        problems.Add(item_where, absl::StrCat("must be a string, not ", wire::KindName(items[i])));
        continue;
      }
      absl::StatusOr<Template> t = ParseTemplate(StdView(items[i].get_string()));
      if (!t.ok()) {
        problems.Add(item_where, t.status().message());
        continue;
      }
      if (i == 0 && (t->whole_children || t->source.empty())) {
        problems.Add(item_where, "the program must be named");
        continue;
      }
      command.argv.push_back(*std::move(t));
    }
  }

  if (const json::value* env = c.if_contains("env")) {
    const std::string env_where = absl::StrCat(where, ".env");
    if (!env->is_object()) {
      problems.Add(env_where, absl::StrCat("must be an object, not ", wire::KindName(*env)));
    } else {
      for (const auto& kv : env->get_object()) {
        const std::string name(View(kv.key()));
        const std::string item_where = absl::StrCat(env_where, ".", name);
        if (!IsEnvName(name)) {
          problems.Add(item_where, "not a variable name (letters, digits, '_'; no leading digit)");
          continue;
        }
        if (std::optional<Template> t = ReadTextTemplate(kv.value(), item_where, problems)) {
          command.env.emplace_back(name, *std::move(t));
        }
      }
    }
  }

  if (const json::value* progress = c.if_contains("progress")) {
    const std::string p_where = absl::StrCat(where, ".progress");
    if (!progress->is_string()) {
      problems.Add(p_where,
                   absl::StrCat("must be a string (a regex), not ", wire::KindName(*progress)));
    } else {
      absl::StatusOr<ProgressPattern> p = ProgressPattern::Compile(StdView(progress->get_string()));
      if (p.ok()) {
        command.progress = *std::move(p);
      } else {
        problems.Add(p_where, p.status().message());
      }
    }
  }

  const std::string total_where = absl::StrCat(where, ".progressTotal");
  const json::value* total = c.if_contains("progressTotal");
  if (total != nullptr) {
    if (total->is_number()) {
      const double t = total->to_number<double>();
      if (!(t > 0) || !std::isfinite(t)) {
        problems.Add(total_where, "must be above 0");
      } else {
        command.progress_total = t;
      }
    } else {
      command.progress_total_template = ReadTextTemplate(*total, total_where, problems);
    }
  }
  const bool wants_total =
      command.progress.has_value() &&
      command.progress->mode() == ProgressPattern::Mode::kDoneOfConfiguredTotal;
  if (wants_total && total == nullptr) {
    problems.Add(total_where,
                 "is required: the progress regex has a (?<done>...) group and no (?<total>...)");
  } else if (!wants_total && total != nullptr) {
    problems.Add(total_where,
                 "is only used with a progress regex that has a (?<done>...) group and no "
                 "(?<total>...)");
  }

  if (const json::value* codes = c.if_contains("finalExitCodes")) {
    const std::string codes_where = absl::StrCat(where, ".finalExitCodes");
    if (!codes->is_array()) {
      problems.Add(codes_where,
                   absl::StrCat("must be an array of integers, not ", wire::KindName(*codes)));
    } else {
      const json::array& items = codes->get_array();
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string item_where = absl::StrCat(codes_where, "[", i, "]");
        double v = items[i].is_number() ? items[i].to_number<double>() : -1;
        if (!items[i].is_number() || v != std::floor(v) || v < 1 || v > 255) {
          problems.Add(item_where, "must be an exit code, an integer 1-255");
          continue;
        }
        command.final_exit_codes.insert(static_cast<int>(v));
      }
    }
  }
  return command;
}

}  // namespace

const CommandConfig* WorkerConfig::Find(const std::optional<std::string>& template_id) const {
  if (template_id.has_value()) {
    if (auto it = commands.find(*template_id); it != commands.end()) return &it->second;
  }
  if (auto it = commands.find("*"); it != commands.end()) return &it->second;
  return nullptr;
}

absl::StatusOr<WorkerConfig> ParseWorkerConfig(std::string_view text, std::string_view source) {
  absl::StatusOr<json::value> parsed = wire::ParseJsonBody(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source), ": not JSON: ", parsed.status().message()));
  }
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source), ": must be a JSON object {\"commands\": {...}}, not ",
                     wire::KindName(*parsed)));
  }
  const json::object& root = parsed->get_object();
  Problems problems;
  WorkerConfig config;
  RejectUnknown(root, {"commands", "graceSeconds"}, "", problems);

  if (const json::value* grace = root.if_contains("graceSeconds")) {
    const double g = grace->is_number() ? grace->to_number<double>() : -1;
    if (!grace->is_number() || !(g > 0) || g > 3600) {
      problems.Add("graceSeconds", "must be a number of seconds above 0, at most 3600");
    } else {
      config.grace = absl::Milliseconds(std::llround(g * 1000));
    }
  }

  const json::value* commands = root.if_contains("commands");
  if (commands == nullptr) {
    problems.Add("commands", "is required: {\"<template id or *>\": {\"argv\": [...]}}");
  } else if (!commands->is_object() || commands->get_object().empty()) {
    problems.Add("commands", "must be an object with at least one command");
  } else {
    for (const auto& kv : commands->get_object()) {
      const std::string key(View(kv.key()));
      const std::string where = absl::StrCat("commands.", key);
      if (key != "*" && !IsTemplateId(key)) {
        problems.Add(where, "not a template id (26 of A-Z and 0-9) nor \"*\"");
        continue;
      }
      if (!kv.value().is_object()) {
        problems.Add(where, absl::StrCat("must be an object {\"argv\": [...]}, not ",
                                         wire::KindName(kv.value())));
        continue;
      }
      config.commands[key] = ReadCommand(kv.value().get_object(), where, problems);
    }
  }
  if (!problems.empty()) return problems.ToStatus(Sv(source));
  return config;
}

absl::StatusOr<WorkerConfig> LoadWorkerConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": cannot read: ", std::strerror(error));
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseWorkerConfig(text.str(), path);
}

}  // namespace cascade::worker
