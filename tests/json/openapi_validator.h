// Copyright 2026 The Cascade Authors.
//
// File: tests/json/openapi_validator.h
// -----------------------------------------------------------------------------
// A small validator of JSON values against the schemas of an OpenAPI 3.0
// document, for tests: the wire tests check every writer's output against
// Nexrender's published document (tests/data/nexrender-openapi-v2.json), and
// the server's tests can check whole responses the same way.
//
// Supported keywords (every one the Nexrender document uses): $ref (local
// JSON pointers, e.g. "#/components/schemas/Job"), type, nullable,
// properties, required, additionalProperties (boolean or schema), items,
// minItems, maxItems, uniqueItems, enum, pattern, minimum, maximum, format
// (date-time is checked as RFC 3339; int32 and int64 as ranges; others are
// annotations), oneOf with an optional discriminator (a mapped value selects
// its schema; other values must match exactly one of the unmapped
// alternatives). description, default, example, title, deprecated, readOnly
// and writeOnly are annotations. Any other keyword is reported as a problem,
// so a schema the validator cannot fully check never passes silently.
//
// Example:
//
//   absl::StatusOr<OpenApiValidator> api = OpenApiValidator::LoadFile(path);
//   std::vector<std::string> problems = api->Validate(JobToJson(job), "Job");
//   EXPECT_THAT(problems, ::testing::IsEmpty());  // "$.stats.createdAt: ..." otherwise

#ifndef CASCADE_TESTS_JSON_OPENAPI_VALIDATOR_H_
#define CASCADE_TESTS_JSON_OPENAPI_VALIDATOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json.hpp"

namespace cascade::testing {

class OpenApiValidator {
 public:
  struct Options {
    // Treat every property a schema declares as required, at every level:
    // checks that a writer omits nothing (the `Job` schema requires nothing).
    bool require_all_properties = false;
  };

  // Reads an OpenAPI document in JSON. NotFound if the file cannot be read,
  // InvalidArgument if it is not JSON or has no components.schemas.
  [[nodiscard]] static absl::StatusOr<OpenApiValidator> LoadFile(const std::string& path);
  [[nodiscard]] static absl::StatusOr<OpenApiValidator> FromDocument(boost::json::value document);

  bool HasSchema(std::string_view name) const;

  // The problems of `value` against `components.schemas.<name>`, each as
  // "<path>: <what>" with paths like `$.stats.createdAt` or `$[2].id`. Empty
  // when it conforms.
  std::vector<std::string> Validate(const boost::json::value& value, std::string_view name,
                                    Options options) const;
  std::vector<std::string> Validate(const boost::json::value& value, std::string_view name) const {
    return Validate(value, name, Options{});
  }

  // The problems of an HTTP answer against what the document says `method`
  // (lower case, "get") on `path` (the document's own spelling, "/jobs/{id}")
  // answers with `status`: one problem if the document does not list that
  // status for the operation (or has no such operation); none if it lists
  // it without a JSON schema; otherwise those of `body_text` (which must be
  // JSON) against the schema.
  std::vector<std::string> ValidateResponse(std::string_view method, std::string_view path,
                                            int status, std::string_view body_text) const;

  // Requests, as a validating proxy driven by the document would check them:
  //
  // The problems of a JSON request body against the schema of `method`'s
  // `requestBody` (application/json) on `path`; one problem if the document
  // has no such operation or body.
  std::vector<std::string> ValidateRequestBody(std::string_view method, std::string_view path,
                                               const boost::json::value& body) const;
  // The problems of one query parameter's (decoded) text against the schema
  // of `method`'s parameter `name` (in: query) on `path`. The text is typed
  // as the schema asks: for an integer, number or boolean schema, text that
  // reads as such a JSON value is that value, anything else stays a string
  // (and so fails the type). One problem if there is no such parameter.
  std::vector<std::string> ValidateQueryParameter(std::string_view method, std::string_view path,
                                                  std::string_view name,
                                                  std::string_view text) const;

  // The same against a schema given inline; its $refs resolve in the document.
  std::vector<std::string> ValidateAgainst(const boost::json::value& value,
                                           const boost::json::value& schema, Options options) const;

 private:
  explicit OpenApiValidator(boost::json::value document) : document_(std::move(document)) {}

  const boost::json::value* Resolve(std::string_view ref) const;
  // paths.<path>.<method>, or null.
  const boost::json::object* Operation(std::string_view method, std::string_view path) const;
  void Check(const boost::json::value& value, const boost::json::value& schema,
             const std::string& path, const Options& options, int depth,
             std::vector<std::string>& problems) const;
  void CheckObject(const boost::json::object& value, const boost::json::object& schema,
                   const std::string& path, const Options& options, int depth,
                   std::vector<std::string>& problems) const;
  void CheckOneOf(const boost::json::value& value, const boost::json::object& schema,
                  const std::string& path, const Options& options, int depth,
                  std::vector<std::string>& problems) const;

  boost::json::value document_;
};

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_JSON_OPENAPI_VALIDATOR_H_
