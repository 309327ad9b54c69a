// Copyright 2026 The Cascade Authors.
//
// HttpServer (server/http_server.h) over loopback: what reaches the handler,
// what goes back on the wire, persistent and pipelined connections, the
// answers the server gives itself (400, 413, 431, 500), timeouts, limits,
// concurrent clients, the graceful Stop, the pool that runs the handlers
// of requests that may wait, and Start's errors.
//
// The client is a plain POSIX socket: the test writes exact bytes (malformed
// ones too) and parses what comes back with Beast's response parser, so the
// server's output is checked to be well-formed HTTP. Every read waits at most
// kPatience, so a broken server fails a test rather than hanging it.
//
// Nothing here measures speed: timeouts are small (200 ms) so that the test
// is quick, and what they cause is awaited with kPatience to spare (this runs
// on a shared 2-core machine, under sanitizers too).

#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/buffer.hpp"
#include "boost/beast/core/error.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "engine/util/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http_types.h"
#include "tests/testutil.h"

namespace cascade::server {
namespace {

namespace http = boost::beast::http;

using ::cascade::internal::Sv;

using ::cascade::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

// How long anything that should happen may take before the test gives up.
constexpr absl::Duration kPatience = absl::Seconds(10);

// ---- The client -------------------------------------------------------------

// A response as received; header names lower-cased.
struct WireResponse {
  int status = 0;
  unsigned version = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (lower case), or nullopt.
  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return std::nullopt;
  }
};

class Client {
 public:
  // Connects to 127.0.0.1:port; connected() says whether it could. A
  // `receive_buffer` size (bytes) fixes the socket's, which otherwise grows
  // with what the server sends.
  explicit Client(uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }

  // Sends all of `bytes`; false when the connection is broken.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Tells the server nothing more will come.
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Reads one response (one to HEAD when `head`: no body follows the
  // header). nullopt, and a test failure when the bytes are not HTTP, when
  // the connection ends first or kPatience passes.
  std::optional<WireResponse> Read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(boost::none);
    parser.header_limit(1 << 20);
    if (head) parser.skip(true);
    const absl::Time deadline = absl::Now() + kPatience;
    for (;;) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        const size_t used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (parser.is_done()) break;
        if (ec && ec != http::error::need_more) {
          ADD_FAILURE() << "not an HTTP response: " << ec.message();
          return std::nullopt;
        }
        if (used > 0) continue;
      }
      if (Receive(deadline) != Received::kData) return std::nullopt;
    }
    const auto& message = parser.get();
    WireResponse response;
    response.status = message.result_int();
    response.version = message.version();
    for (const auto& field : message) {
      std::string name(field.name_string().data(), field.name_string().size());
      absl::AsciiStrToLower(&name);
      response.headers.emplace_back(std::move(name),
                                    std::string(field.value().data(), field.value().size()));
    }
    response.body = message.body();
    return response;
  }

  // Reads until what arrived (and was not read before) holds `text`, and
  // returns it up to and including `text`; nullopt if the connection ends or
  // kPatience passes first.
  std::optional<std::string> ReadThrough(std::string_view text) {
    const absl::Time deadline = absl::Now() + kPatience;
    for (;;) {
      if (const size_t at = pending_.find(text); at != std::string::npos) {
        std::string read = pending_.substr(0, at + text.size());
        pending_.erase(0, at + text.size());
        return read;
      }
      if (Receive(deadline) != Received::kData) return std::nullopt;
    }
  }

  // Whether the server closes the connection (an end of stream or a reset)
  // within `limit`. Bytes that arrive meanwhile are discarded.
  bool ClosedByServer(absl::Duration limit = kPatience) {
    const absl::Time deadline = absl::Now() + limit;
    for (;;) {
      switch (Receive(deadline)) {
        case Received::kData:
          pending_.clear();
          break;
        case Received::kClosed:
          return true;
        case Received::kTimeout:
          return false;
      }
    }
  }

 private:
  enum class Received { kData, kClosed, kTimeout };

  // Receives what has arrived into pending_, waiting for it until `deadline`.
  Received Receive(absl::Time deadline) {
    for (;;) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return Received::kTimeout;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return Received::kClosed;
      if (ready == 0) continue;  // the loop checks the deadline
      char chunk[64 << 10];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Received::kClosed;  // end of stream, or a reset
      pending_.append(chunk, static_cast<size_t>(n));
      return Received::kData;
    }
  }

  int fd_ = -1;
  std::string pending_;  // received, not yet parsed
};

// ---- Requests, handlers, servers ----------------------------------------------

// `extra` is header lines, each ending in "\r\n".
std::string Get(std::string_view target, std::string_view extra = "",
                std::string_view method = "GET") {
  return absl::StrCat(Sv(method), " ", Sv(target), " HTTP/1.1\r\nHost: test\r\n", Sv(extra),
                      "\r\n");
}
std::string Post(std::string_view target, std::string_view body, std::string_view extra = "") {
  return absl::StrCat("POST ", Sv(target),
                      " HTTP/1.1\r\nHost: test\r\nContent-Length: ", body.size(), "\r\n", Sv(extra),
                      "\r\n", Sv(body));
}

// A string literal's bytes, NULs included.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// "<method> <target>\n<body>", as text/plain.
Response Echo(const Request& request) {
  Response response;
  response.content_type = "text/plain";
  response.body = absl::StrCat(request.method, " ", request.target, "\n", request.body);
  return response;
}

HttpServerOptions TestOptions() {
  HttpServerOptions options;
  options.port = 0;
  options.threads = 2;
  return options;
}

// Counts the calls of a handler.
class CountingEcho {
 public:
  Handler handler() {
    return [this](const Request& request) {
      calls_.fetch_add(1);
      return Echo(request);
    };
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
};

// The JSON body of a server-made error response.
struct ErrorBody {
  std::string error;
  std::string error_code;
};
ErrorBody ParseError(const WireResponse& response) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(response.body, ec);
  if (ec || !value.is_object() || value.as_object().size() != 2 ||
      !value.as_object().contains("error") || !value.as_object().contains("errorCode") ||
      !value.at("error").is_string() || !value.at("errorCode").is_string()) {
    ADD_FAILURE() << "not an error body: " << response.body;
    return {};
  }
  return {std::string(value.at("error").as_string()),
          std::string(value.at("errorCode").as_string())};
}

// ---- What reaches the handler, what comes back ------------------------------

TEST(HttpServerTest, RequestReachesTheHandlerAndTheResponseComesBack) {
  std::mutex mu;
  std::optional<Request> seen;
  auto handler = [&](const Request& request) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen = request;
    }
    Response response;
    response.status = 201;
    response.headers = {{"X-Request-Id", "r-1"}, {"Location", "/api/v2/jobs/01J"}};
    response.content_type = "application/json";
    response.body = R"({"id":"01J"})";
    return response;
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  ASSERT_NE(server->port(), 0);

  Client client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(Post("/api/v2/jobs?limit=5", R"({"name":"x"})",
                               "X-Custom-Thing: Some Value\r\nContent-Type: application/json\r\n"
                               "X-Dup: 1\r\nx-DUP: 2\r\n")));
  const std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());

  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->method, "POST");
    EXPECT_EQ(seen->target, "/api/v2/jobs?limit=5");
    EXPECT_THAT(seen->headers,
                ::testing::ElementsAre(Pair("host", "test"), Pair("content-length", "12"),
                                       Pair("x-custom-thing", "Some Value"),
                                       Pair("content-type", "application/json"), Pair("x-dup", "1"),
                                       Pair("x-dup", "2")));
    EXPECT_EQ(seen->Header("x-custom-thing"), "Some Value");
    EXPECT_EQ(seen->body, R"({"name":"x"})");
  }

  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->version, 11u);
  EXPECT_EQ(response->Header("x-request-id"), "r-1");
  EXPECT_EQ(response->Header("location"), "/api/v2/jobs/01J");
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_EQ(response->Header("content-length"), "12");
  EXPECT_EQ(response->Header("server"), "cascade-server");
  EXPECT_THAT(response->Header("date"), ::testing::Optional(HasSubstr(" GMT")));
  EXPECT_EQ(response->Header("connection"), std::nullopt);
  EXPECT_EQ(response->body, R"({"id":"01J"})");
}

TEST(HttpServerTest, ServerOwnsTheFraming) {
  auto handler = [](const Request& request) {
    Response response;
    response.body = "abc";
    if (request.target == "/no-type") {
      response.content_type = "";
    } else if (request.target == "/no-content") {
      response.status = 204;
    } else if (request.target == "/framing") {
      response.headers = {{"Content-Length", "999"},    {"Transfer-Encoding", "chunked"},
                          {"Connection", "keep-alive"}, {"Server", "other"},
                          {"Date", "yesterday"},        {"X-Kept", "yes"}};
    }
    return response;
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  Client client(server->port());
  // One connection: each response must end exactly where it says it does
  // for the next one to parse.
  ASSERT_TRUE(client.Send(Get("/no-type") + Get("/no-content") + Get("/framing") + Get("/")));

  std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("content-type"), std::nullopt);
  EXPECT_EQ(response->body, "abc");

  response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->Header("content-length"), std::nullopt);
  EXPECT_EQ(response->body, "");

  response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("content-length"), "3");
  EXPECT_EQ(response->Header("transfer-encoding"), std::nullopt);
  EXPECT_EQ(response->Header("connection"), std::nullopt);
  EXPECT_EQ(response->Header("x-kept"), "yes");
  EXPECT_EQ(response->Header("server"), "cascade-server");
  EXPECT_NE(response->Header("date"), "yesterday");
  EXPECT_EQ(std::count_if(response->headers.begin(), response->headers.end(),
                          [](const auto& h) { return h.first == "server" || h.first == "date"; }),
            2);
  EXPECT_EQ(response->body, "abc");

  response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_EQ(response->body, "abc");
}

TEST(HttpServerTest, HandlerAskingToCloseClosesAfterTheResponse) {
  auto handler = [](const Request&) {
    Response response;
    response.headers = {{"Connection", "Close"}};
    return response;
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/")));
  const std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(client.ClosedByServer());
}

// ---- Persistent connections -------------------------------------------------

TEST(HttpServerTest, KeepAliveServesThreeRequestsOnOneConnection) {
  CountingEcho echo;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), echo.handler()));
  Client client(server->port());
  for (int i = 0; i < 3; ++i) {
    const std::string target = absl::StrCat("/r", i);
    ASSERT_TRUE(client.Send(Get(target)));
    const std::optional<WireResponse> response = client.Read();
    ASSERT_TRUE(response.has_value()) << "request " << i;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, absl::StrCat("GET ", target, "\n"));
    EXPECT_EQ(response->Header("connection"), std::nullopt);
  }
  EXPECT_EQ(echo.calls(), 3);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  // The first requests take longest: answers must still come in order.
  auto handler = [](const Request& request) {
    if (request.target == "/0") absl::SleepFor(absl::Milliseconds(50));
    if (request.target == "/1") absl::SleepFor(absl::Milliseconds(20));
    return Echo(request);
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  Client client(server->port());
  std::string all;
  for (int i = 0; i < 10; ++i) {
    all += i % 2 == 0 ? Get(absl::StrCat("/", i)) : Post(absl::StrCat("/", i), "body");
  }
  ASSERT_TRUE(client.Send(all));
  for (int i = 0; i < 10; ++i) {
    const std::optional<WireResponse> response = client.Read();
    ASSERT_TRUE(response.has_value()) << "response " << i;
    EXPECT_EQ(response->body,
              i % 2 == 0 ? absl::StrCat("GET /", i, "\n") : absl::StrCat("POST /", i, "\nbody"));
  }
}

TEST(HttpServerTest, ConnectionCloseIsHonoured) {
  CountingEcho echo;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), echo.handler()));
  Client client(server->port());
  // A second request after the closing one is not answered.
  ASSERT_TRUE(client.Send(Get("/last", "Connection: close\r\n") + Get("/never")));
  const std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "GET /last\n");
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(client.ClosedByServer());
  EXPECT_EQ(echo.calls(), 1);
}

TEST(HttpServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), Echo));
  {
    Client client(server->port());
    ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\n\r\n"));
    const std::optional<WireResponse> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->version, 10u);
    EXPECT_EQ(response->body, "GET /old\n");
    EXPECT_TRUE(client.ClosedByServer());
  }
  {
    Client client(server->port());
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      const std::optional<WireResponse> response = client.Read();
      ASSERT_TRUE(response.has_value()) << "request " << i;
      EXPECT_EQ(response->version, 10u);
      EXPECT_EQ(response->Header("connection"), "keep-alive");
    }
  }
}

TEST(HttpServerTest, HeadGetsTheLengthButNoBody) {
  auto handler = [](const Request&) {
    Response response;
    response.body = "twelve bytes";
    return response;
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  Client client(server->port());
  // Had the HEAD response a body, the GET response would not parse.
  ASSERT_TRUE(client.Send(Get("/x", "", "HEAD") + Get("/x")));
  std::optional<WireResponse> response = client.Read(/*head=*/true);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-length"), "12");
  response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "twelve bytes");
}

// ---- Answers the server gives itself ------------------------------------------

TEST(HttpServerTest, BodyOverTheLimitIs413AndCloses) {
  CountingEcho echo;
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, echo.handler()));
  const std::string big(1025, 'b');
  const struct {
    std::string name;
    std::string bytes;
  } cases[] = {
      {"declared, not sent", "POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Length: 1025\r\n\r\n"},
      {"declared and sent", Post("/jobs", big)},
      {"declared with 100-continue",
       "POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Length: 1025\r\n"
       "Expect: 100-continue\r\n\r\n"},
      {"declared far over", Post("/jobs", std::string(1 << 20, 'b'))},
      {"chunked", absl::StrCat("POST /jobs HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked",
                               "\r\n\r\n320\r\n", std::string(800, 'c'), "\r\n320\r\n",
                               std::string(800, 'c'), "\r\n0\r\n\r\n")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Client client(server->port());
    // A large body may not all be taken before the answer: the answer is
    // read while it is being sent.
    std::thread sender([&] { client.Send(c.bytes); });
    const std::optional<WireResponse> response = client.Read();
    sender.join();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);  // not 100 first either
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_EQ(response->Header("content-type"), "application/json");
    EXPECT_EQ(
        response->body,
        R"({"error":"request body is larger than 1024 bytes","errorCode":"payload_too_large"})");
    EXPECT_TRUE(client.ClosedByServer());
  }
  EXPECT_EQ(echo.calls(), 0);

  // At the limit is fine.
  Client client(server->port());
  ASSERT_TRUE(client.Send(Post("/jobs", std::string(1024, 'b'))));
  const std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body.size(), std::string("POST /jobs\n").size() + 1024);
}

TEST(HttpServerTest, Expect100ContinueGetsAnInterimResponse) {
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), Echo));
  Client client(server->port());
  ASSERT_TRUE(client.Send(
      "POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 100);
  ASSERT_TRUE(client.Send("hello"));
  response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /jobs\nhello");
}

TEST(HttpServerTest, MalformedRequestsAre400AndClose) {
  CountingEcho echo;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), echo.handler()));
  const std::string cases[] = {
      Bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"),  // TLS-like
      "hello\r\n\r\n",
      "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
      "GET\x01 / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 trailing\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      Bytes("GET / HTTP/1.1\r\nX-Nul: a\0b\r\n\r\n"),
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  // an HTTP/2 client's preface
      "GET / HTTP/0.9\r\n\r\n",
      "GET / HTTP/1.2\r\n\r\n",
  };
  for (const std::string& bytes : cases) {
    SCOPED_TRACE(absl::CHexEscape(bytes));
    Client client(server->port());
    ASSERT_TRUE(client.Send(bytes));
    const std::optional<WireResponse> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400);
    EXPECT_EQ(response->Header("connection"), "close");
    const ErrorBody error = ParseError(*response);
    EXPECT_THAT(error.error, StartsWith("malformed HTTP request: "));
    EXPECT_GT(error.error.size(), std::string("malformed HTTP request: ").size());
    EXPECT_EQ(error.error_code, "invalid_argument");
    EXPECT_TRUE(client.ClosedByServer());
  }
  EXPECT_EQ(echo.calls(), 0);
}

TEST(HttpServerTest, HeaderOverTheLimitIs431AndCloses) {
  CountingEcho echo;
  HttpServerOptions options = TestOptions();
  options.max_header_bytes = 1024;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, echo.handler()));
  for (const std::string& bytes :
       {Get("/", absl::StrCat("X-Big: ", std::string(4096, 'a'), "\r\n")),
        Get(absl::StrCat("/", std::string(4096, 'a'))),
        Get("/", absl::StrCat("X-Big: ", std::string(1100, 'a')))}) {  // never ends
    Client client(server->port());
    ASSERT_TRUE(client.Send(bytes));
    const std::optional<WireResponse> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 431);
    const ErrorBody error = ParseError(*response);
    EXPECT_EQ(error.error, "request header is larger than 1024 bytes");
    EXPECT_EQ(error.error_code, "request_header_fields_too_large");
    EXPECT_TRUE(client.ClosedByServer());
  }
  EXPECT_EQ(echo.calls(), 0);
}

TEST(HttpServerTest, HandlerThatThrowsGets500AndTheServerGoesOn) {
  auto handler = [](const Request& request) -> Response {
    if (request.target == "/throw") throw std::runtime_error("handler bug");
    if (request.target == "/throw-int") throw 42;
    return Echo(request);
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  Client client(server->port());
  for (const char* target : {"/throw", "/throw-int"}) {
    ASSERT_TRUE(client.Send(Get(target)));
    const std::optional<WireResponse> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->body, R"({"error":"internal error","errorCode":"internal"})");
  }
  // The same connection still works, and so do new ones.
  ASSERT_TRUE(client.Send(Get("/ok")));
  std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  Client another(server->port());
  ASSERT_TRUE(another.Send(Get("/ok")));
  response = another.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST(HttpServerTest, ResponseThatCannotBeSentIs500) {
  auto handler = [](const Request& request) {
    Response response;
    if (request.target == "/status-42") response.status = 42;
    if (request.target == "/status-1000") response.status = 1000;
    if (request.target == "/bad-name") response.headers = {{"Bad Name", "x"}};
    if (request.target == "/split") response.headers = {{"X-A", "1\r\nSet-Cookie: evil=1"}};
    if (request.target == "/huge-value") response.headers = {{"X-A", std::string(70000, 'v')}};
    if (request.target == "/bad-type") response.content_type = "text/plain\r\nX-B: 1";
    return response;
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  Client client(server->port());
  for (const char* target :
       {"/status-42", "/status-1000", "/bad-name", "/split", "/huge-value", "/bad-type"}) {
    SCOPED_TRACE(target);
    ASSERT_TRUE(client.Send(Get(target)));
    const std::optional<WireResponse> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->Header("set-cookie"), std::nullopt);
    EXPECT_EQ(response->Header("x-b"), std::nullopt);
  }
  ASSERT_TRUE(client.Send(Get("/fine")));
  const std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

// No input crashes the server: requests with random bytes flipped, inserted
// or cut off, each on its own connection; each is answered or closed.
TEST(HttpServerTest, MangledRequestsAreAnsweredOrClosed) {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 256;
  options.max_header_bytes = 512;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, Echo));
  const std::string seeds[] = {
      Post("/api/v2/jobs?x=1", R"({"template":{"id":"t"}})", "Connection: keep-alive\r\n"),
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
      Get("/a", "Expect: 100-continue\r\nX-A: b\r\n") + Get("/b", "", "HEAD"),
  };
  std::mt19937 random(20260101);
  for (int i = 0; i < 300; ++i) {
    std::string bytes = seeds[i % std::size(seeds)];
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const size_t at = random() % bytes.size();
      switch (random() % 4) {
        case 0:
          bytes[at] = static_cast<char>(random() % 256);
          break;
        case 1:
          bytes.insert(at, std::string(1 + random() % 8, static_cast<char>(random() % 256)));
          break;
        case 2:
          bytes.erase(at, 1 + random() % 8);
          break;
        case 3:
          bytes.resize(at);
          break;
      }
    }
    Client client(server->port());
    ASSERT_TRUE(client.connected()) << "input " << i;
    client.Send(bytes);
    client.ShutdownWrite();
    ASSERT_TRUE(client.ClosedByServer()) << "input " << i << ": " << absl::CHexEscape(bytes);
  }
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/still-here")));
  const std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "GET /still-here\n");
}

// ---- Concurrency --------------------------------------------------------------

TEST(HttpServerTest, ConcurrentClientsAreAllAnswered) {
  CountingEcho echo;
  HttpServerOptions options = TestOptions();
  options.threads = 4;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, echo.handler()));
  constexpr int kClients = 8;
  constexpr int kRequests = 200;
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      // Even clients keep one connection; odd ones open one per request.
      std::optional<Client> client;
      for (int r = 0; r < kRequests; ++r) {
        if (!client.has_value() || c % 2 == 1) client.emplace(server->port());
        const std::string target = absl::StrCat("/c", c, "/r", r);
        const std::string body = absl::StrCat("body of ", c, ".", r);
        const std::string extra = c % 2 == 1 ? "Connection: close\r\n" : "";
        if (!client->Send(Post(target, body, extra))) {
          ADD_FAILURE() << "send " << target;
          return;
        }
        const std::optional<WireResponse> response = client->Read();
        if (!response.has_value() || response->status != 200 ||
            response->body != absl::StrCat("POST ", target, "\n", body)) {
          ADD_FAILURE() << "wrong or no answer to " << target;
          return;
        }
        answered.fetch_add(1);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(answered.load(), kClients * kRequests);
  EXPECT_EQ(echo.calls(), kClients * kRequests);
}

// ---- Timeouts and limits ------------------------------------------------------

TEST(HttpServerTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  HttpServerOptions options = TestOptions();
  options.idle_timeout = absl::Milliseconds(200);
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, Echo));
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/")));
  ASSERT_TRUE(client.Read().has_value());
  EXPECT_TRUE(client.ClosedByServer());
}

TEST(HttpServerTest, RequestNotWholeWithinTheReadTimeoutIsClosed) {
  CountingEcho echo;
  HttpServerOptions options = TestOptions();
  options.read_timeout = absl::Milliseconds(200);
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, echo.handler()));
  for (const std::string& bytes :
       {std::string("GET / HTTP/1.1\r\nHost: te"),
        std::string("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345"), std::string()}) {
    Client client(server->port());
    ASSERT_TRUE(client.Send(bytes));
    EXPECT_TRUE(client.ClosedByServer()) << bytes;
  }
  EXPECT_EQ(echo.calls(), 0);
}

// Slowloris: clients that trickle a header byte by byte are closed at the
// read timeout, and hold no thread meanwhile.
TEST(HttpServerTest, TricklingClientsAreClosedAndDoNotBlockOthers) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = absl::Milliseconds(300);
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, Echo));
  constexpr int kTricklers = 4;  // twice the server's threads
  std::atomic<int> closed{0};
  std::vector<std::thread> tricklers;
  for (int i = 0; i < kTricklers; ++i) {
    tricklers.emplace_back([&] {
      Client client(server->port());
      client.Send("GET / HTTP/1.1\r\nX-Slow: ");
      const absl::Time give_up = absl::Now() + kPatience;
      while (absl::Now() < give_up) {
        client.Send("a");
        if (client.ClosedByServer(absl::Milliseconds(20))) {
          closed.fetch_add(1);
          return;
        }
      }
    });
  }
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/meanwhile")));
  const std::optional<WireResponse> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "GET /meanwhile\n");
  for (std::thread& t : tricklers) t.join();
  EXPECT_EQ(closed.load(), kTricklers);
}

TEST(HttpServerTest, ConnectionsOverTheLimitAreClosed) {
  HttpServerOptions options = TestOptions();
  options.max_connections = 1;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, Echo));
  auto first = std::make_unique<Client>(server->port());
  ASSERT_TRUE(first->Send(Get("/first")));
  ASSERT_TRUE(first->Read().has_value());

  Client second(server->port());
  second.Send(Get("/second"));
  EXPECT_TRUE(second.ClosedByServer());

  // Once the first is gone there is room again (as soon as the server has
  // seen it go).
  first.reset();
  const absl::Time give_up = absl::Now() + kPatience;
  bool served = false;
  while (!served && absl::Now() < give_up) {
    Client third(server->port());
    if (third.Send(Get("/third"))) {
      const std::optional<WireResponse> response = third.Read();
      served = response.has_value() && response->body == "GET /third\n";
    }
    if (!served) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(served);
}

// ---- Stop ---------------------------------------------------------------------

TEST(HttpServerTest, StopLetsTheHandlerInFlightAnswerAndThenRefusesConnections) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool release = false;
  auto handler = [&](const Request& request) {
    if (request.target == "/slow") {
      std::unique_lock<std::mutex> lock(mu);
      entered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      Response response;
      response.body = "slow done";
      return response;
    }
    return Echo(request);
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), handler));
  const uint16_t port = server->port();

  Client idle(port);
  ASSERT_TRUE(idle.Send(Get("/warm-up")));
  ASSERT_TRUE(idle.Read().has_value());

  auto slow = std::make_unique<Client>(port);
  ASSERT_TRUE(slow->Send(Get("/slow")));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, absl::ToChronoNanoseconds(kPatience), [&] { return entered; }));
  }

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server->Stop();
    stopped = true;
  });
  // Stop closes the idle connection at once, while the handler still runs.
  EXPECT_TRUE(idle.ClosedByServer());
  EXPECT_FALSE(stopped.load());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();

  const std::optional<WireResponse> response = slow->Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "slow done");
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(slow->ClosedByServer());
  slow.reset();  // the server waits for the client's close (see kLingerTimeout)
  stopper.join();
  EXPECT_TRUE(stopped.load());

  Client after(port);
  EXPECT_FALSE(after.connected());
  server->Stop();  // idempotent
  EXPECT_EQ(server->port(), port);
}

TEST(HttpServerTest, StopGivesUpOnAClientThatDoesNotRead) {
  std::atomic<bool> entered{false};
  auto handler = [&](const Request&) {
    entered = true;
    Response response;
    response.body = std::string(16 << 20, 'x');  // more than the socket buffers hold
    return response;
  };
  HttpServerOptions options = TestOptions();
  options.stop_timeout = absl::Milliseconds(200);
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, handler));
  Client client(server->port(), /*receive_buffer=*/64 << 10);
  ASSERT_TRUE(client.Send(Get("/big")));
  const absl::Time give_up = absl::Now() + kPatience;
  while (!entered.load() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(entered.load());

  const absl::Time start = absl::Now();
  server->Stop();
  // Well before read_timeout (30 s), which would also end the write.
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

// Stop while connections end by themselves: it must not miss them (and wait
// for stop_timeout) however their ends and its steps interleave.
TEST(HttpServerTest, StopRacingConnectionsThatEndIsPrompt) {
  for (int i = 0; i < 20; ++i) {
    HttpServerOptions options = TestOptions();
    options.stop_timeout = absl::Seconds(20);
    CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, Echo));
    {
      Client client(server->port());
      ASSERT_TRUE(client.Send(Get("/", "Connection: close\r\n")));
      ASSERT_TRUE(client.Read().has_value());
    }  // the server is still lingering, or has just seen the close
    const absl::Time start = absl::Now();
    server->Stop();
    ASSERT_LT(absl::Now() - start, absl::Seconds(10)) << "iteration " << i;
  }
}

TEST(HttpServerTest, DestructorStopsTheServer) {
  uint16_t port;
  {
    CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(TestOptions(), Echo));
    port = server->port();
    Client client(port);
    ASSERT_TRUE(client.Send(Get("/")));
    ASSERT_TRUE(client.Read().has_value());
  }
  Client after(port);
  EXPECT_FALSE(after.connected());
}

// ---- The waiting pool (HttpServerOptions::may_wait) ----------------------------

// A handler that blocks the requests to /slow until Release(), counting the
// calls by target.
class Gate {
 public:
  Handler handler() {
    return [this](const Request& request) {
      std::unique_lock<std::mutex> lock(mu_);
      ++calls_[request.target];
      if (request.target == "/slow") {
        ++waiting_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return released_; });
      }
      return Echo(request);
    };
  }
  // Waits until `n` requests are held; false after kPatience.
  bool WaitForHeld(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(kPatience), [&] { return waiting_ >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int calls(const std::string& target) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[target];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool released_ = false;
  std::map<std::string, int> calls_;
};

HttpServerOptions WaitingOptions(int io_threads, int waiting_threads) {
  HttpServerOptions options = TestOptions();
  options.threads = io_threads;
  options.waiting_threads = waiting_threads;
  options.may_wait = [](const Request& request) { return request.method == "POST"; };
  return options;
}

TEST(HttpServerWaitingTest, WaitingHandlersDoNotHoldTheIoThreads) {
  Gate gate;
  // One I/O thread: a POST held in its handler there would stall the GET.
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server,
                               HttpServer::Start(WaitingOptions(1, 2), gate.handler()));
  Client slow(server->port());
  ASSERT_TRUE(slow.Send(Post("/slow", "held")));
  ASSERT_TRUE(gate.WaitForHeld(1));

  Client fast(server->port());
  ASSERT_TRUE(fast.Send(Get("/fast")));
  std::optional<WireResponse> answer = fast.Read();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->body, "GET /fast\n");

  gate.Release();
  answer = slow.Read();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, "POST /slow\nheld");
  // The connection goes on as before.
  ASSERT_TRUE(slow.Send(Post("/again", "x")));
  answer = slow.Read();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->body, "POST /again\nx");
}

TEST(HttpServerWaitingTest, ThrowingWaitingHandlerGets500) {
  auto handler = [](const Request& request) -> Response {
    if (request.target == "/throw") throw std::runtime_error("boom");
    return Echo(request);
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(WaitingOptions(1, 1), handler));
  Client client(server->port());
  ASSERT_TRUE(client.Send(Post("/throw", "")));
  std::optional<WireResponse> answer = client.Read();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 500);
  EXPECT_EQ(ParseError(*answer).error_code, "internal");
  ASSERT_TRUE(client.Send(Post("/ok", "y")));
  answer = client.Read();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->body, "POST /ok\ny");
}

TEST(HttpServerWaitingTest, StopLetsTheWaitingHandlerAnswer) {
  Gate gate;
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server,
                               HttpServer::Start(WaitingOptions(2, 2), gate.handler()));
  Client idle(server->port());
  ASSERT_TRUE(idle.Send(Get("/warm-up")));
  ASSERT_TRUE(idle.Read().has_value());
  auto slow = std::make_unique<Client>(server->port());
  ASSERT_TRUE(slow->Send(Post("/slow", "")));
  ASSERT_TRUE(gate.WaitForHeld(1));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server->Stop();
    stopped = true;
  });
  EXPECT_TRUE(idle.ClosedByServer());
  EXPECT_FALSE(stopped.load());
  gate.Release();
  const std::optional<WireResponse> answer = slow->Read();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->Header("connection"), "close");
  EXPECT_TRUE(slow->ClosedByServer());
  slow.reset();
  stopper.join();
  EXPECT_TRUE(stopped.load());
}

TEST(HttpServerWaitingTest, RequestStillQueuedWhenStopGivesUpIsNeverHandled) {
  Gate gate;
  HttpServerOptions options = WaitingOptions(1, 1);
  options.stop_timeout = absl::Milliseconds(200);
  std::atomic<bool> queued_read{false};
  options.may_wait = [&queued_read](const Request& request) {
    if (request.target == "/queued") queued_read = true;
    return true;
  };
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, gate.handler()));
  Client slow(server->port());
  ASSERT_TRUE(slow.Send(Post("/slow", "")));
  ASSERT_TRUE(gate.WaitForHeld(1));
  // The pool's one thread is held: this one queues behind it (handed over
  // right after may_wait picked it, before Stop can reach its connection).
  Client queued(server->port());
  ASSERT_TRUE(queued.Send(Post("/queued", "")));
  const absl::Time give_up = absl::Now() + kPatience;
  while (!queued_read.load() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(queued_read.load());

  std::thread stopper([&] { server->Stop(); });
  // After stop_timeout Stop closes both connections, then waits for the
  // held handler.
  EXPECT_TRUE(queued.ClosedByServer());
  EXPECT_TRUE(slow.ClosedByServer());
  gate.Release();
  stopper.join();
  EXPECT_EQ(gate.calls("/slow"), 1);
  EXPECT_EQ(gate.calls("/queued"), 0);
}

// ---- Start --------------------------------------------------------------------

TEST(HttpServerTest, StartOnAPortInUseFails) {
  CASCADE_ASSERT_OK_AND_ASSIGN(auto first, HttpServer::Start(TestOptions(), Echo));
  HttpServerOptions options = TestOptions();
  options.port = first->port();
  EXPECT_THAT(HttpServer::Start(options, Echo),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("127.0.0.1:", first->port()))));
}

TEST(HttpServerTest, StartWithABadHostFails) {
  for (const char* host : {"not-an-address", "256.1.1.1", "", "example.com"}) {
    HttpServerOptions options = TestOptions();
    options.host = host;
    EXPECT_THAT(HttpServer::Start(options, Echo),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat(host, ":0: the host is not an IP address"))));
  }
}

TEST(HttpServerTest, LocalhostIsTheLoopbackAddress) {
  HttpServerOptions options = TestOptions();
  options.host = "localhost";
  CASCADE_ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Start(options, Echo));
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/")));
  EXPECT_TRUE(client.Read().has_value());
}

TEST(HttpServerTest, StartRejectsBadOptions) {
  struct Case {
    std::string name;
    HttpServerOptions options;
    Handler handler;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, auto change) {
    Case c{std::move(name), TestOptions(), Echo};
    change(c);
    cases.push_back(std::move(c));
  };
  add("no handler", [](Case& c) { c.handler = nullptr; });
  add("threads", [](Case& c) { c.options.threads = -1; });
  add("max_header_bytes 0", [](Case& c) { c.options.max_header_bytes = 0; });
  add("max_header_bytes huge", [](Case& c) { c.options.max_header_bytes = size_t{1} << 20; });
  add("read_timeout", [](Case& c) { c.options.read_timeout = absl::ZeroDuration(); });
  add("idle_timeout", [](Case& c) { c.options.idle_timeout = -absl::Seconds(1); });
  add("stop_timeout", [](Case& c) { c.options.stop_timeout = -absl::Seconds(1); });
  add("max_connections", [](Case& c) { c.options.max_connections = 0; });
  add("waiting_threads", [](Case& c) {
    c.options.waiting_threads = -1;
    c.options.may_wait = [](const Request&) { return true; };
  });
  for (Case& c : cases) {
    EXPECT_THAT(HttpServer::Start(c.options, std::move(c.handler)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << c.name;
  }
}

// ---- Streamed bodies (Response::stream) -----------------------------------------

// A StreamBody the test feeds: Next hands over what Push queued; End ends it.
class ScriptedBody : public StreamBody {
 public:
  void Start(std::function<void()> wake, std::function<void()> cut) override {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = std::move(wake);
    cut_ = std::move(cut);
    started_ = true;
  }
  bool Next(std::string* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++nexts_;
    *out = std::move(queued_);
    queued_.clear();
    return !ended_;
  }
  void Closed() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++closed_;
    cv_.notify_all();
  }

  void Push(std::string bytes, bool end = false) {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queued_ += bytes;
      ended_ = ended_ || end;
      wake = wake_;
    }
    wake();
  }
  void Cut() {
    std::function<void()> cut;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cut = cut_;
    }
    cut();
  }
  // Whether Closed was called (exactly once) within kPatience.
  bool WaitClosed() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(kPatience), [this] { return closed_ > 0; });
    return closed_ == 1;
  }
  bool started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  int closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> wake_;
  std::function<void()> cut_;
  std::string queued_;
  bool ended_ = false;
  bool started_ = false;
  int nexts_ = 0;
  int closed_ = 0;
};

// A server whose every answer is `body`, streamed, with `first` queued.
std::unique_ptr<HttpServer> StreamingServer(const std::shared_ptr<ScriptedBody>& body,
                                            HttpServerOptions options = TestOptions()) {
  auto server = HttpServer::Start(options, [body](const Request&) {
    Response response;
    response.content_type = "text/event-stream";
    response.headers.emplace_back("Cache-Control", "no-store");
    response.stream = body;
    return response;
  });
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(HttpServerStreamTest, TheBodyFollowsItsHeaderAsItIsProducedUntilItEnds) {
  auto body = std::make_shared<ScriptedBody>();
  std::unique_ptr<HttpServer> server = StreamingServer(body);
  ASSERT_NE(server, nullptr);
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/events")));
  std::optional<std::string> header = client.ReadThrough("\r\n\r\n");
  ASSERT_TRUE(header.has_value());
  EXPECT_TRUE(absl::StartsWith(*header, "HTTP/1.1 200 OK\r\n")) << *header;
  const std::string lower = absl::AsciiStrToLower(*header);
  EXPECT_TRUE(absl::StrContains(lower, "content-type: text/event-stream")) << *header;
  EXPECT_TRUE(absl::StrContains(lower, "cache-control: no-store")) << *header;
  EXPECT_TRUE(absl::StrContains(lower, "connection: close")) << *header;
  EXPECT_FALSE(absl::StrContains(lower, "content-length")) << *header;
  EXPECT_FALSE(absl::StrContains(lower, "transfer-encoding")) << *header;
  EXPECT_TRUE(body->started());

  body->Push("first piece;");
  EXPECT_EQ(client.ReadThrough(";"), "first piece;");
  body->Push("second piece;");
  EXPECT_EQ(client.ReadThrough(";"), "second piece;");
  body->Push("last;", /*end=*/true);
  EXPECT_EQ(client.ReadThrough(";"), "last;");
  EXPECT_TRUE(client.ClosedByServer());
  EXPECT_TRUE(body->WaitClosed());
}

TEST(HttpServerStreamTest, TheClientClosingEndsTheStream) {
  auto body = std::make_shared<ScriptedBody>();
  std::unique_ptr<HttpServer> server = StreamingServer(body);
  ASSERT_NE(server, nullptr);
  {
    Client client(server->port());
    ASSERT_TRUE(client.Send(Get("/events")));
    ASSERT_TRUE(client.ReadThrough("\r\n\r\n").has_value());
  }  // closed without a word
  EXPECT_TRUE(body->WaitClosed());
}

TEST(HttpServerStreamTest, CutClosesTheConnectionOfAClientThatDoesNotRead) {
  auto body = std::make_shared<ScriptedBody>();
  HttpServerOptions options = TestOptions();
  options.read_timeout = absl::Hours(1);  // so only the cut can end it
  std::unique_ptr<HttpServer> server = StreamingServer(body, options);
  ASSERT_NE(server, nullptr);
  Client client(server->port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(client.Send(Get("/events")));
  ASSERT_TRUE(client.ReadThrough("\r\n\r\n").has_value());
  // More than the socket buffers hold: the write stays pending.
  body->Push(std::string(size_t{32} << 20, 'x'));
  body->Cut();
  EXPECT_TRUE(body->WaitClosed());
  EXPECT_TRUE(client.ClosedByServer());
}

TEST(HttpServerStreamTest, StopEndsOpenStreamsPromptly) {
  auto body = std::make_shared<ScriptedBody>();
  HttpServerOptions options = TestOptions();
  options.stop_timeout = absl::Hours(1);  // a stream must not be waited for
  std::unique_ptr<HttpServer> server = StreamingServer(body, options);
  ASSERT_NE(server, nullptr);
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/events")));
  ASSERT_TRUE(client.ReadThrough("\r\n\r\n").has_value());
  const absl::Time start = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - start, kPatience);  // a hang guard, not a timing check
  EXPECT_EQ(body->closed(), 1);
  EXPECT_TRUE(client.ClosedByServer());
}

TEST(HttpServerStreamTest, HeadGetsTheHeaderAndTheBodyIsNeverStarted) {
  auto body = std::make_shared<ScriptedBody>();
  std::unique_ptr<HttpServer> server = StreamingServer(body);
  ASSERT_NE(server, nullptr);
  Client client(server->port());
  ASSERT_TRUE(client.Send(Get("/events", "", "HEAD")));
  std::optional<WireResponse> response = client.Read(/*head=*/true);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "text/event-stream");
  EXPECT_FALSE(body->started());
  EXPECT_EQ(body->closed(), 0);
}

}  // namespace
}  // namespace cascade::server
