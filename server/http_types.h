// Copyright 2026 The Cascade Authors.
//
// The request and response cascade-server's handler works on, free of any
// HTTP library: HttpServer (http_server.h) fills a Request from the wire and
// writes the Response back; tests and the fuzzer call the handler directly.

#ifndef CASCADE_SERVER_HTTP_TYPES_H_
#define CASCADE_SERVER_HTTP_TYPES_H_

#include <functional>
#include <memory>
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

// A response body written as it is produced, for as long as the client
// reads it (Server-Sent Events). The connection pulls: whenever it has
// written what it had, it calls Next for more, and when Next has nothing yet
// it waits until the body calls the `wake` function it was given.
class StreamBody {
 public:
  virtual ~StreamBody() = default;
  // Called once, before the first Next, with the function that makes the
  // connection call Next again, and the one that closes the connection at
  // once, whatever it is writing (a client that stopped reading is cut
  // without waiting for its write to time out). Both may be called from any
  // thread, any number of times, also after the connection ended (they then
  // do nothing).
  virtual void Start(std::function<void()> wake, std::function<void()> cut) = 0;
  // Appends the body's next bytes to *out, which is empty. Leaving it empty
  // means "nothing yet": the connection waits for `wake`. Returns false to
  // end the body: what is in *out is written, then the connection closes.
  // Called on one thread at a time.
  virtual bool Next(std::string* out) = 0;
  // Called once when the connection ends, for whatever reason (the body
  // ended, the client closed, a write timed out, the server stops). No Next
  // follows.
  virtual void Closed() = 0;
};

struct Response {
  int status = 200;
  // Besides Content-Type (from `content_type`) and Content-Length, which the
  // server sets.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::string body;
  // When set, `body` is ignored: the header goes out without Content-Length,
  // then the body is whatever `stream` produces until it ends or the client
  // goes away, and the connection closes after it (HTTP/1.0 style, which
  // every SSE client reads). A HEAD request gets the header alone, and
  // `stream` is never started.
  std::shared_ptr<StreamBody> stream;
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_HTTP_TYPES_H_
