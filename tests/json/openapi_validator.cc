// Copyright 2026 The Cascade Authors.
//
// The OpenAPI 3.0 schema checks of openapi_validator.h.

#include "tests/json/openapi_validator.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/strings.h"

namespace cascade::testing {
namespace json = ::boost::json;
using ::cascade::internal::Sv;
namespace {

// Deeper than any real schema and value: stops a $ref cycle.
constexpr int kMaxDepth = 200;

std::string_view View(json::string_view s) { return std::string_view(s.data(), s.size()); }

std::string Describe(const json::value& v) {
  std::string text = json::serialize(v);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

bool IsIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (!v.is_double()) return false;
  const double d = v.get_double();
  return std::isfinite(d) && std::floor(d) == d;
}

// The value as a double; REQUIRES: it is a number.
double AsDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// Numbers compare by value (1 == 1.0), everything else structurally.
bool JsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return AsDouble(a) == AsDouble(b);
  return a == b;
}

// RFC 3339 date-time: 2023-11-07T05:31:56Z, 2023-11-07T05:31:56.123+01:00.
bool IsDateTime(std::string_view s) {
  static const std::regex kPattern(
      R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(s.begin(), s.end(), m, kPattern)) return false;
  auto field = [&m](int i) { return std::stoi(m[i].str()); };
  const int month = field(2), day = field(3), hour = field(4), minute = field(5);
  const int second = field(6);
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;  // 60: a leap second
  if (m[9].matched && (field(9) > 23 || field(10) > 59)) return false;
  return true;
}

bool TypeMatches(std::string_view type, const json::value& v) {
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return IsIntegral(v);
  if (type == "boolean") return v.is_bool();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return false;
}

std::string Kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "?";
}

bool IsAnnotation(std::string_view key) {
  for (std::string_view k :
       {"description", "default", "example", "title", "deprecated", "readOnly", "writeOnly"}) {
    if (key == k) return true;
  }
  return false;
}

bool IsKnownKeyword(std::string_view key) {
  for (std::string_view k :
       {"$ref", "type", "nullable", "properties", "required", "additionalProperties", "items",
        "minItems", "maxItems", "uniqueItems", "enum", "pattern", "minimum", "maximum", "format",
        "oneOf", "discriminator"}) {
    if (key == k) return true;
  }
  return IsAnnotation(key);
}

}  // namespace

absl::StatusOr<OpenApiValidator> OpenApiValidator::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  json::parse_options options;
  options.max_depth = 1000;
  json::error_code ec;
  json::value document = json::parse(text.str(), ec, {}, options);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(path, ": ", ec.message()));
  return FromDocument(std::move(document));
}

absl::StatusOr<OpenApiValidator> OpenApiValidator::FromDocument(json::value document) {
  const json::value* schemas = nullptr;
  if (const json::object* root = document.if_object()) {
    if (const json::value* components = root->if_contains("components")) {
      if (components->is_object()) schemas = components->get_object().if_contains("schemas");
    }
  }
  if (schemas == nullptr || !schemas->is_object()) {
    return absl::InvalidArgumentError("not an OpenAPI document: no components.schemas object");
  }
  return OpenApiValidator(std::move(document));
}

bool OpenApiValidator::HasSchema(std::string_view name) const {
  return Resolve(absl::StrCat("#/components/schemas/", Sv(name))) != nullptr;
}

const json::value* OpenApiValidator::Resolve(std::string_view ref) const {
  if (ref.substr(0, 2) != "#/") return nullptr;
  const json::value* at = &document_;
  ref.remove_prefix(2);
  while (at != nullptr) {
    const size_t slash = ref.find('/');
    std::string token(ref.substr(0, slash));
    // JSON pointer escapes: ~1 is '/', ~0 is '~'.
    for (size_t i = 0; (i = token.find('~', i)) != std::string::npos; ++i) {
      if (i + 1 < token.size() && token[i + 1] == '1') token.replace(i, 2, "/");
      if (i + 1 < token.size() && token[i + 1] == '0') token.replace(i, 2, "~");
    }
    const json::object* o = at->if_object();
    at = o == nullptr ? nullptr : o->if_contains(token);
    if (slash == std::string_view::npos) break;
    ref.remove_prefix(slash + 1);
  }
  return at;
}

std::vector<std::string> OpenApiValidator::Validate(const json::value& value, std::string_view name,
                                                    Options options) const {
  const json::value* schema = Resolve(absl::StrCat("#/components/schemas/", Sv(name)));
  if (schema == nullptr) return {absl::StrCat("no schema named ", Sv(name))};
  std::vector<std::string> problems;
  Check(value, *schema, "$", options, 0, problems);
  return problems;
}

std::vector<std::string> OpenApiValidator::ValidateAgainst(const json::value& value,
                                                           const json::value& schema,
                                                           Options options) const {
  std::vector<std::string> problems;
  Check(value, schema, "$", options, 0, problems);
  return problems;
}

const json::object* OpenApiValidator::Operation(std::string_view method,
                                                std::string_view path) const {
  const json::value* paths = document_.as_object().if_contains("paths");
  if (paths == nullptr || !paths->is_object()) return nullptr;
  const json::value* item =
      paths->get_object().if_contains(json::string_view(path.data(), path.size()));
  if (item == nullptr || !item->is_object()) return nullptr;
  const json::value* op =
      item->get_object().if_contains(json::string_view(method.data(), method.size()));
  return op == nullptr ? nullptr : op->if_object();
}

std::vector<std::string> OpenApiValidator::ValidateRequestBody(std::string_view method,
                                                               std::string_view path,
                                                               const json::value& body) const {
  const std::string where = absl::StrCat(std::string(method), " ", std::string(path));
  const json::object* op = Operation(method, path);
  if (op == nullptr) return {absl::StrCat(where, ": no such operation")};
  const json::value* schema = nullptr;
  if (const json::value* request = op->if_contains("requestBody");
      request && request->is_object()) {
    if (const json::value* content = request->get_object().if_contains("content");
        content && content->is_object()) {
      if (const json::value* media = content->get_object().if_contains("application/json");
          media && media->is_object()) {
        schema = media->get_object().if_contains("schema");
      }
    }
  }
  if (schema == nullptr) return {absl::StrCat(where, ": no JSON request body")};
  return ValidateAgainst(body, *schema, Options{});
}

std::vector<std::string> OpenApiValidator::ValidateQueryParameter(std::string_view method,
                                                                  std::string_view path,
                                                                  std::string_view name,
                                                                  std::string_view text) const {
  const std::string where =
      absl::StrCat(std::string(method), " ", std::string(path), " ?", std::string(name));
  const json::object* op = Operation(method, path);
  const json::value* schema = nullptr;
  if (op != nullptr) {
    if (const json::value* params = op->if_contains("parameters"); params && params->is_array()) {
      for (const json::value& p : params->get_array()) {
        const json::object* param = p.if_object();
        if (param == nullptr) continue;
        const json::value* in = param->if_contains("in");
        const json::value* n = param->if_contains("name");
        if (in && *in == "query" && n && n->is_string() && View(n->get_string()) == name) {
          schema = param->if_contains("schema");
        }
      }
    }
  }
  if (schema == nullptr) return {absl::StrCat(where, ": no such query parameter")};
  json::value value = json::string(json::string_view(text.data(), text.size()));
  const json::value* type =
      schema->is_object() ? schema->get_object().if_contains("type") : nullptr;
  if (type != nullptr && (*type == "integer" || *type == "number" || *type == "boolean")) {
    boost::system::error_code ec;
    json::value typed = json::parse(json::string_view(text.data(), text.size()), ec);
    if (!ec && (typed.is_number() || typed.is_bool())) value = std::move(typed);
  }
  std::vector<std::string> problems = ValidateAgainst(value, *schema, Options{});
  for (std::string& problem : problems) problem = absl::StrCat(where, problem.substr(1));
  return problems;
}

std::vector<std::string> OpenApiValidator::ValidateResponse(std::string_view method,
                                                            std::string_view path, int status,
                                                            std::string_view body_text) const {
  const std::string where = absl::StrCat(std::string(method), " ", std::string(path), " ", status);
  const json::value* op = nullptr;
  if (const json::value* paths = document_.as_object().if_contains("paths")) {
    if (const json::value* item =
            paths->as_object().if_contains(json::string_view(path.data(), path.size()))) {
      op = item->as_object().if_contains(json::string_view(method.data(), method.size()));
    }
  }
  if (op == nullptr || !op->is_object()) return {absl::StrCat(where, ": no such operation")};
  const json::value* responses = op->as_object().if_contains("responses");
  const json::value* response =
      responses == nullptr ? nullptr : responses->as_object().if_contains(std::to_string(status));
  if (response == nullptr) return {absl::StrCat(where, ": the document does not list it")};
  const json::value* content = response->as_object().if_contains("content");
  const json::value* media =
      content == nullptr ? nullptr : content->as_object().if_contains("application/json");
  if (media == nullptr || !media->as_object().contains("schema")) return {};
  boost::system::error_code ec;
  json::value body = json::parse(json::string_view(body_text.data(), body_text.size()), ec);
  if (ec) return {absl::StrCat(where, ": the body is not JSON")};
  return ValidateAgainst(body, media->as_object().at("schema"), Options{});
}

void OpenApiValidator::Check(const json::value& value, const json::value& schema_value,
                             const std::string& path, const Options& options, int depth,
                             std::vector<std::string>& problems) const {
  auto problem = [&](std::string what) { problems.push_back(absl::StrCat(path, ": ", what)); };
  if (depth > kMaxDepth) return problem("schema nesting too deep (a $ref cycle?)");
  const json::object* schema = schema_value.if_object();
  if (schema == nullptr) return problem("the schema is not an object");

  // $ref: the siblings are ignored (OpenAPI 3.0).
  if (const json::value* ref = schema->if_contains("$ref")) {
    const json::value* target = ref->is_string() ? Resolve(View(ref->get_string())) : nullptr;
    if (target == nullptr) return problem(absl::StrCat("unresolvable $ref ", Describe(*ref)));
    return Check(value, *target, path, options, depth + 1, problems);
  }
  for (const json::key_value_pair& kv : *schema) {
    if (!IsKnownKeyword(View(kv.key()))) {
      problem(absl::StrCat("unsupported schema keyword '", Sv(View(kv.key())), "'"));
    }
  }

  const json::value* nullable = schema->if_contains("nullable");
  const json::value* type = schema->if_contains("type");
  if (value.is_null()) {
    if (nullable != nullptr && nullable->is_bool() && nullable->get_bool()) return;
    if (type != nullptr) return problem("is null, which the schema does not allow (not nullable)");
  }
  if (type != nullptr) {
    if (!type->is_string()) return problem("the schema's type is not a string");
    const std::string_view t = View(type->get_string());
    if (!TypeMatches(t, value)) {
      return problem(absl::StrCat("expected ", Sv(t), ", got ", Kind(value)));
    }
  }

  if (const json::value* allowed = schema->if_contains("enum")) {
    bool found = false;
    if (allowed->is_array()) {
      for (const json::value& a : allowed->get_array()) found = found || JsonEqual(a, value);
    }
    if (!found) {
      problem(absl::StrCat(Describe(value), " is not one of ", Describe(*allowed)));
    }
  }

  if (value.is_string()) {
    const std::string_view s = View(value.get_string());
    if (const json::value* format = schema->if_contains("format");
        format != nullptr && format->is_string() && format->get_string() == "date-time" &&
        !IsDateTime(s)) {
      problem(absl::StrCat(Describe(value), " is not an RFC 3339 date-time"));
    }
    if (const json::value* pattern = schema->if_contains("pattern"); pattern != nullptr) {
      const std::string p(View(pattern->as_string()));
      if (!std::regex_search(s.begin(), s.end(), std::regex(p, std::regex::ECMAScript))) {
        problem(absl::StrCat(Describe(value), " does not match ", p));
      }
    }
  }

  if (value.is_number()) {
    const double d = AsDouble(value);
    if (const json::value* min = schema->if_contains("minimum");
        min != nullptr && min->is_number() && d < AsDouble(*min)) {
      problem(absl::StrCat(Describe(value), " is below the minimum ", Describe(*min)));
    }
    if (const json::value* max = schema->if_contains("maximum");
        max != nullptr && max->is_number() && d > AsDouble(*max)) {
      problem(absl::StrCat(Describe(value), " is above the maximum ", Describe(*max)));
    }
    if (const json::value* format = schema->if_contains("format");
        format != nullptr && format->is_string()) {
      const bool int32 = format->get_string() == "int32";
      const bool int64 = format->get_string() == "int64";
      if ((int32 &&
           (d < std::numeric_limits<int32_t>::min() || d > std::numeric_limits<int32_t>::max())) ||
          (int64 && value.is_uint64() &&
           value.get_uint64() > uint64_t{std::numeric_limits<int64_t>::max()})) {
        problem(
            absl::StrCat(Describe(value), " is out of range for ", Sv(View(format->as_string()))));
      }
    }
  }

  if (const json::array* array = value.if_array()) {
    if (const json::value* min = schema->if_contains("minItems");
        min != nullptr && min->is_number() && static_cast<double>(array->size()) < AsDouble(*min)) {
      problem(absl::StrCat("has ", array->size(), " items, fewer than ", Describe(*min)));
    }
    if (const json::value* max = schema->if_contains("maxItems");
        max != nullptr && max->is_number() && static_cast<double>(array->size()) > AsDouble(*max)) {
      problem(absl::StrCat("has ", array->size(), " items, more than ", Describe(*max)));
    }
    if (const json::value* unique = schema->if_contains("uniqueItems");
        unique != nullptr && unique->is_bool() && unique->get_bool()) {
      for (size_t i = 0; i < array->size(); ++i) {
        for (size_t j = i + 1; j < array->size(); ++j) {
          if (JsonEqual((*array)[i], (*array)[j])) {
            problem(absl::StrCat("items ", i, " and ", j, " are equal"));
          }
        }
      }
    }
    if (const json::value* items = schema->if_contains("items")) {
      for (size_t i = 0; i < array->size(); ++i) {
        Check((*array)[i], *items, absl::StrCat(path, "[", i, "]"), options, depth + 1, problems);
      }
    }
  }

  if (const json::object* object = value.if_object()) {
    CheckObject(*object, *schema, path, options, depth, problems);
  }

  if (schema->contains("oneOf")) CheckOneOf(value, *schema, path, options, depth, problems);
}

void OpenApiValidator::CheckObject(const json::object& value, const json::object& schema,
                                   const std::string& path, const Options& options, int depth,
                                   std::vector<std::string>& problems) const {
  auto problem = [&](std::string what) { problems.push_back(absl::StrCat(path, ": ", what)); };
  const json::object* properties = nullptr;
  if (const json::value* p = schema.if_contains("properties")) properties = p->if_object();
  if (const json::value* required = schema.if_contains("required")) {
    if (const json::array* names = required->if_array()) {
      for (const json::value& name : *names) {
        if (name.is_string() && !value.contains(name.get_string())) {
          problem(absl::StrCat("missing required property '", Sv(View(name.get_string())), "'"));
        }
      }
    }
  }
  if (properties != nullptr && options.require_all_properties) {
    for (const json::key_value_pair& kv : *properties) {
      if (!value.contains(kv.key())) {
        problem(
            absl::StrCat("missing property '", Sv(View(kv.key())), "' (all are required here)"));
      }
    }
  }
  const json::value* additional = schema.if_contains("additionalProperties");
  for (const json::key_value_pair& kv : value) {
    const std::string where = absl::StrCat(path, ".", Sv(View(kv.key())));
    const json::value* declared =
        properties == nullptr ? nullptr : properties->if_contains(kv.key());
    if (declared != nullptr) {
      Check(kv.value(), *declared, where, options, depth + 1, problems);
    } else if (additional != nullptr && additional->is_bool()) {
      if (!additional->get_bool()) {
        problem(absl::StrCat("unexpected property '", Sv(View(kv.key())), "'"));
      }
    } else if (additional != nullptr && additional->is_object()) {
      Check(kv.value(), *additional, where, options, depth + 1, problems);
    }
  }
}

void OpenApiValidator::CheckOneOf(const json::value& value, const json::object& schema,
                                  const std::string& path, const Options& options, int depth,
                                  std::vector<std::string>& problems) const {
  auto problem = [&](std::string what) { problems.push_back(absl::StrCat(path, ": ", what)); };
  const json::array* alternatives = schema.at("oneOf").if_array();
  if (alternatives == nullptr) return problem("the schema's oneOf is not an array");

  // A discriminator value named in the mapping selects its schema.
  const json::object* mapping = nullptr;
  std::vector<std::string> mapped_refs;
  if (const json::value* d = schema.if_contains("discriminator"); d != nullptr && d->is_object()) {
    const json::value* name = d->get_object().if_contains("propertyName");
    if (const json::value* m = d->get_object().if_contains("mapping")) mapping = m->if_object();
    if (mapping != nullptr) {
      for (const json::key_value_pair& kv : *mapping) {
        if (kv.value().is_string()) mapped_refs.emplace_back(View(kv.value().get_string()));
      }
    }
    const json::value* tag = nullptr;
    if (name != nullptr && name->is_string() && value.is_object()) {
      tag = value.get_object().if_contains(name->get_string());
    }
    if (mapping != nullptr && tag != nullptr && tag->is_string()) {
      if (const json::value* ref = mapping->if_contains(tag->get_string())) {
        json::object by_ref{{"$ref", *ref}};
        return Check(value, by_ref, path, options, depth + 1, problems);
      }
    }
  }
  size_t matches = 0;
  std::vector<std::string> first_failure;
  for (const json::value& alternative : *alternatives) {
    if (const json::object* alt = alternative.if_object()) {
      if (const json::value* ref = alt->if_contains("$ref"); ref != nullptr && ref->is_string()) {
        bool is_mapped = false;
        for (const std::string& m : mapped_refs)
          is_mapped = is_mapped || m == View(ref->get_string());
        if (is_mapped) continue;  // only through its discriminator value
      }
    }
    std::vector<std::string> sub;
    Check(value, alternative, path, options, depth + 1, sub);
    if (sub.empty()) {
      ++matches;
    } else if (first_failure.empty()) {
      first_failure = std::move(sub);
    }
  }
  if (matches == 1) return;
  if (matches == 0) {
    problem("matches none of oneOf");
    problems.insert(problems.end(), first_failure.begin(), first_failure.end());
  } else {
    problem(absl::StrCat("matches ", matches, " alternatives of oneOf, not exactly one"));
  }
}

}  // namespace cascade::testing
