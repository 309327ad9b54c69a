// Copyright 2026 The Cascade Authors.
//
// The request and response cascade-server's handler works on, free of any
// HTTP library: HttpServer (http_server.h) fills a Request from the wire and
// writes the Response back; tests and the fuzzer call the handler directly.

#ifndef CASCADE_SERVER_HTTP_TYPES_H_
#define CASCADE_SERVER_HTTP_TYPES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade::server {

struct Request {
  std::string method;  // "GET", "POST", ... as received (upper case by HTTP's rules)
  std::string target;  // path and query, as received: "/api/v2/jobs?limit=5"
  // Header fields in order; names lower-cased by the server.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The client's IP address as text ("127.0.0.1", "::1"); empty when the
  // request did not come from a socket (tests, the fuzzer).
  std::string peer;

  // The value of the first header named `name` (lower case), or "".
  std::string_view Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return {};
  }
};

struct Response {
  int status = 200;
  // Besides Content-Type (from `content_type`) and Content-Length, which the
  // server sets.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::string body;
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_HTTP_TYPES_H_
