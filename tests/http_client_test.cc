// Copyright 2026 The Cascade Authors.
//
// The project's HTTP client (net/http_client.h) against a scripted loopback
// server: its URL parser, the request it writes for each method, and the
// response it returns under BodyMode::kRead (status, headers in order, the
// whole body, however framed) with the errors around it: a body over the
// limit, a connection closed mid-body, a body or a server that never ends,
// a closed port. And HttpClient::Stream, which hands a body over piece by
// piece as it arrives (an event stream), with its idle limit and its stops by
// callback and by cancel flag. The webhook behaviour (BodyMode::kDiscard) and
// TLS are tested through the engine's adapter in tests/http_transport_test.cc.
//
// The server is the LoopbackHttpServer of tests/loopback_http_server.h, or,
// where a body must arrive in pieces over time, the PacedServer below.
// Nothing here measures speed. Timeouts are asserted only as upper bounds,
// with two seconds to spare: this runs on a shared 2-core machine, under
// sanitizers too.

#include "net/http_client.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/read_until.hpp"
#include "boost/asio/streambuf.hpp"
#include "boost/asio/write.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/loopback_http_server.h"
#include "tests/testutil.h"

namespace cascade::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

using ::cascade::testing::IsOk;
using ::cascade::testing::Raw;
using ::cascade::testing::ReadThenHang;
using ::cascade::testing::Reply;
using ::cascade::testing::Respond;
using ::cascade::testing::SeenRequest;
using ::cascade::testing::Silent;
using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

using TestServer = ::cascade::testing::LoopbackHttpServer;

// Generous: a normal exchange on loopback takes milliseconds.
constexpr absl::Duration kTimeout = absl::Seconds(10);
// For the tests that wait for a timeout.
constexpr absl::Duration kShortTimeout = absl::Milliseconds(300);
// What a timed-out Send may take beyond its timeout.
constexpr absl::Duration kSlack = absl::Seconds(2);

HttpRequest Request(Method method, std::string url, std::string body = "", Headers headers = {}) {
  HttpRequest request;
  request.method = method;
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.body = std::move(body);
  return request;
}

// Runs client.Send and measures how long it took.
absl::StatusOr<HttpResponse> TimedSend(HttpClient& client, const HttpRequest& request,
                                       absl::Duration timeout, BodyMode mode,
                                       absl::Duration* elapsed) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<HttpResponse> result = client.Send(request, timeout, mode);
  *elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
  return result;
}

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
uint16_t ClosedPort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

// `body` as chunks of `chunk` bytes, with the terminating chunk.
std::string Chunked(const std::string& body, size_t chunk) {
  std::string out;
  for (size_t at = 0; at < body.size(); at += chunk) {
    const std::string piece = body.substr(at, chunk);
    absl::StrAppend(&out, absl::Hex(piece.size()), "\r\n", piece, "\r\n");
  }
  absl::StrAppend(&out, "0\r\n\r\n");
  return out;
}

// A body that shows where a piece went missing or repeats: "0000001\n...".
std::string Numbered(int lines) {
  std::string out;
  for (int i = 0; i < lines; ++i) absl::StrAppend(&out, absl::Dec(i, absl::kZeroPad7), "\n");
  return out;
}

// ---- ParseHttpUrl -----------------------------------------------------------

TEST(HttpUrlTest, ParsesSchemeHostPortAndTarget) {
  struct Case {
    std::string url;
    bool tls;
    std::string host;
    uint16_t port;
    std::string target;
    std::string host_header;
  };
  const Case cases[] = {
      {"http://example.com", false, "example.com", 80, "/", "example.com"},
      {"https://example.com", true, "example.com", 443, "/", "example.com"},
      {"HTTPS://Hooks.Example.com:8443/a/b?x=1&y=2#frag", true, "Hooks.Example.com", 8443,
       "/a/b?x=1&y=2", "Hooks.Example.com:8443"},
      {"http://example.com:80/p", false, "example.com", 80, "/p", "example.com"},
      {"https://example.com:80/p", true, "example.com", 80, "/p", "example.com:80"},
      {"http://example.com:/p", false, "example.com", 80, "/p", "example.com"},
      {"http://example.com?q=1", false, "example.com", 80, "/?q=1", "example.com"},
      {"http://example.com#only-fragment", false, "example.com", 80, "/", "example.com"},
      {"http://10.0.0.7:9000/hook", false, "10.0.0.7", 9000, "/hook", "10.0.0.7:9000"},
      {"http://[::1]:8080/hook", false, "::1", 8080, "/hook", "[::1]:8080"},
      {"https://[2001:db8::1]/", true, "2001:db8::1", 443, "/", "[2001:db8::1]"},
      {"http://my_host-1.internal/a@b", false, "my_host-1.internal", 80, "/a@b",
       "my_host-1.internal"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(c.url);
    ASSERT_THAT(url, IsOk());
    EXPECT_EQ(url->tls, c.tls);
    EXPECT_EQ(url->host, c.host);
    EXPECT_EQ(url->port, c.port);
    EXPECT_EQ(url->target, c.target);
    EXPECT_EQ(url->host_header, c.host_header);
  }
}

TEST(HttpUrlTest, RejectsWhatItCannotSendTo) {
  for (const char* bad : {
           "ftp://x",
           "http://",
           "https://",
           "http:///path",
           "http://host:99999/",
           "http://host:0/",
           "http://host:65536/",
           "http://host:8o/",
           "http://host:-1/",
           "http://host:80:81/",
           "not a url",
           "",
           "//host/",
           "http://user@host/",
           "http://user:pass@host/",
           "http://ho st/",
           "http://host/a b",
           "http://host/\r\nX-Injected: 1",
           "http://h\xc3\xa9st/",
           "http://host%2F/",
           "http://[::1/",
           "http://[::1]x/",
           "http://[not-ipv6]/",
           "http://[fe80::1%25eth0]/",
           "http://[]/",
           "mailto:someone@example.com",
       }) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseHttpUrl(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid URL: ")));
  }
}

// ---- BodyMode::kRead: the whole response ----------------------------------

TEST(HttpClientReadTest, ReturnsStatusHeadersInOrderAndAContentLengthBody) {
  const std::string body = R"({"id":"01J","state":"finished"})" + Numbered(3000);  // > 8 KiB
  TestServer server;
  server.Script(
      {Raw(absl::StrCat("HTTP/1.1 201 Created\r\n"
                        "Content-Type: application/json\r\n"
                        "X-Request-Id: r-1\r\n"
                        "x-lower: kept as sent\r\n"
                        "X-Request-Id: r-2\r\n"
                        "Content-Length: ",
                        body.size(), "\r\n\r\n", body))});
  HttpClient client;
  absl::StatusOr<HttpResponse> response =
      client.Send(Request(Method::kGet, server.Url("/jobs/01J")), kTimeout);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 201);
  // In arrival order, but a repeated name's fields stay together (http_client.h).
  EXPECT_THAT(response->headers,
              ElementsAre(Pair("Content-Type", "application/json"), Pair("X-Request-Id", "r-1"),
                          Pair("X-Request-Id", "r-2"), Pair("x-lower", "kept as sent"),
                          Pair("Content-Length", absl::StrCat(body.size()))));
  EXPECT_EQ(response->body, body);
}

TEST(HttpClientReadTest, ReturnsAChunkedBodyWhole) {
  const std::string body = Numbered(5000);  // 40 000 bytes
  TestServer server;
  server.Script({
      // Chunks larger and smaller than the client's 8 KiB scratch buffer.
      Raw(absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                       Chunked(body, 12000))),
      Raw(absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Chunked(body, 7))),
      // A trailer after the last chunk.
      Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"),
  });
  HttpClient client;
  for (const std::string& expected : {body, body, std::string("hello")}) {
    absl::StatusOr<HttpResponse> response =
        client.Send(Request(Method::kGet, server.Url("/logs")), kTimeout);
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 200);
    EXPECT_THAT(response->headers, ElementsAre(Pair("Transfer-Encoding", "chunked")));
    EXPECT_EQ(response->body.size(), expected.size());
    EXPECT_TRUE(response->body == expected);  // not printed: 40 kB
  }
}

TEST(HttpClientReadTest, OtherFramingsAndInterimResponses) {
  TestServer server;
  server.Script({
      Raw("HTTP/1.1 200 OK\r\n\r\nuntil the server closes"),
      Respond(204),
      Raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
          "HTTP/1.1 409 Conflict\r\nX-Final: yes\r\nContent-Length: 4\r\n\r\ngone"),
  });
  HttpClient client;
  absl::StatusOr<HttpResponse> response =
      client.Send(Request(Method::kGet, server.Url()), kTimeout);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "until the server closes");

  response = client.Send(Request(Method::kDelete, server.Url()), kTimeout);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 204);
  EXPECT_THAT(response->body, IsEmpty());

  // Only the final response's headers.
  response = client.Send(Request(Method::kPost, server.Url(), "{}"), kTimeout);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 409);
  EXPECT_THAT(response->headers, ElementsAre(Pair("X-Final", "yes"), Pair("Content-Length", "4")));
  EXPECT_EQ(response->body, "gone");
}

// ---- The request ------------------------------------------------------------

// Each method's request line, and the Content-Length rule of http_client.h:
// sent when there is a body, and as 0 for a POST, PUT or PATCH without one;
// none for a bodiless GET or DELETE.
TEST(HttpClientRequestTest, EachMethodWithItsContentLengthRule) {
  struct Case {
    Method method;
    const char* name;
    std::string body;
    const char* content_length;  // null: no header
  };
  const Case cases[] = {
      {Method::kGet, "GET", "", nullptr},
      {Method::kDelete, "DELETE", "", nullptr},
      {Method::kPost, "POST", "", "0"},
      {Method::kPut, "PUT", "", "0"},
      {Method::kPatch, "PATCH", "", "0"},
      {Method::kPut, "PUT", R"({"state":"started"})", "19"},
      {Method::kPatch, "PATCH", R"({"b":2})", "7"},
      {Method::kDelete, "DELETE", "{}", "2"},
      {Method::kGet, "GET", "{}", "2"},
  };
  TestServer server;
  HttpClient client("cascade-worker/0.1");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<HttpResponse> response =
        client.Send(Request(c.method, server.Url("/api/v1/jobs/01J?x=1"), c.body,
                            {{"Authorization", "Bearer w"}, {"Content-Type", "application/json"}}),
                    kTimeout);
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "ok");
  }
  const std::vector<SeenRequest> seen = server.requests();
  ASSERT_THAT(seen, SizeIs(std::size(cases)));
  for (size_t i = 0; i < seen.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(absl::StrCat(c.name, " with body \"", c.body, "\""));
    EXPECT_EQ(seen[i].method, c.name);
    EXPECT_EQ(seen[i].target, "/api/v1/jobs/01J?x=1");
    EXPECT_EQ(seen[i].body, c.body);
    Headers expected = {{"Host", absl::StrCat("127.0.0.1:", server.port())},
                        {"User-Agent", "cascade-worker/0.1"}};
    if (c.content_length != nullptr) expected.emplace_back("Content-Length", c.content_length);
    expected.emplace_back("Authorization", "Bearer w");
    expected.emplace_back("Content-Type", "application/json");
    EXPECT_EQ(seen[i].headers, expected);
  }
  EXPECT_EQ(server.accepted(), static_cast<int>(std::size(cases)));  // one connection each
}

TEST(HttpClientRequestTest, EmptyUserAgentSendsNone) {
  TestServer server;
  HttpClient client("");
  ASSERT_THAT(client.Send(Request(Method::kGet, server.Url()), kTimeout), IsOk());
  ASSERT_THAT(server.requests(), SizeIs(1));
  EXPECT_THAT(server.requests()[0].headers,
              ElementsAre(Pair("Host", absl::StrCat("127.0.0.1:", server.port()))));
}

TEST(HttpClientRequestTest, BadRequestsAreInvalidAndSendNothing) {
  TestServer server;
  HttpClient client;
  for (Headers headers : {
           Headers{{"Host", "evil.example.com"}},
           Headers{{"content-length", "5"}},
           Headers{{"Transfer-Encoding", "chunked"}},
           Headers{{"Bad Name", "v"}},
           Headers{{"X-Split", "a\r\nX-Injected: 1"}},
       }) {
    SCOPED_TRACE(headers.back().first);
    EXPECT_THAT(client.Send(Request(Method::kPost, server.Url(), "{}", headers), kTimeout),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request header")));
  }
  EXPECT_THAT(client.Send(Request(Method::kGet, "ftp://127.0.0.1/"), kTimeout),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid URL")));
  HttpClient broken("agent\r\nX-Injected: 1");
  EXPECT_THAT(broken.Send(Request(Method::kGet, server.Url()), kTimeout),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("User-Agent")));
  EXPECT_THAT(client.Send(Request(Method::kGet, server.Url()), absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(server.accepted(), 0);
}

// ---- Errors under BodyMode::kRead -----------------------------------------

TEST(HttpClientReadTest, BodyOverTheLimitIsResourceExhausted) {
  constexpr size_t kLimit = 10000;
  const std::string at_limit(kLimit, 'a');
  const std::string over(kLimit + 1, 'b');
  TestServer server;
  server.Script({
      Respond(200, at_limit),  // exactly the limit: fine
      Raw(absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                       Chunked(at_limit, 3000))),
      Respond(200, over),  // Content-Length says so: refused before reading
      Raw(absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                       Chunked(over, 3000))),
      Raw(absl::StrCat("HTTP/1.1 200 OK\r\n\r\n", over)),  // until the server closes
      // A huge Content-Length, and no such body: refused without waiting.
      Raw("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", false),
  });
  HttpClient client;
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    absl::StatusOr<HttpResponse> response =
        client.Send(Request(Method::kGet, server.Url()), kTimeout, BodyMode::kRead, kLimit);
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->body.size(), kLimit);
  }
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THAT(
        client.Send(Request(Method::kGet, server.Url()), kTimeout, BodyMode::kRead, kLimit),
        StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("over the limit of 10000 bytes")));
    // Refused as soon as the limit is passed, never by the deadline.
    EXPECT_LT(absl::FromChrono(std::chrono::steady_clock::now() - start), kTimeout);
  }
  // The webhook mode reads at most the limit of any of them, and the status
  // is the answer.
  server.Script(
      {Respond(200, over), Raw("HTTP/1.1 202 OK\r\nContent-Length: 99999999999\r\n\r\n")});
  for (int expected : {200, 202}) {
    absl::StatusOr<HttpResponse> response =
        client.Send(Request(Method::kGet, server.Url()), kTimeout, BodyMode::kDiscard, kLimit);
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, expected);
    EXPECT_THAT(response->body, IsEmpty());
  }
}

TEST(HttpClientReadTest, ServerClosingMidBodyIsUnavailable) {
  TestServer server;
  server.Script({
      Raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some"),
      Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nshort"),
      Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
  });
  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(client.Send(Request(Method::kGet, server.Url()), kTimeout),
                StatusIs(absl::StatusCode::kUnavailable,
                         HasSubstr("connection closed before the body ended")));
  }
}

TEST(HttpClientReadTest, BrokenResponsesAreUnavailable) {
  TestServer server;
  server.Script({
      Raw(""),                            // closes without a byte
      Raw("HTTP/1.1 200 OK\r\nContent"),  // closes inside the header
      Raw("hello there\r\n\r\n"),         // not HTTP
      Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),  // a bad chunk
  });
  HttpClient client;
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(client.Send(Request(Method::kGet, server.Url()), kTimeout),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("read response")));
  }
}

TEST(HttpClientReadTest, BodyStillArrivingAtTheDeadlineIsDeadlineExceeded) {
  TestServer server;
  const Reply stalls = Raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some", false);
  server.Script({stalls, stalls});
  HttpClient client;
  absl::Duration elapsed;
  EXPECT_THAT(TimedSend(client, Request(Method::kGet, server.Url()), kShortTimeout, BodyMode::kRead,
                        &elapsed),
              StatusIs(absl::StatusCode::kDeadlineExceeded, Eq("timed out after 300ms")));
  EXPECT_LE(elapsed, kShortTimeout + kSlack);
  EXPECT_GE(elapsed, kShortTimeout - absl::Milliseconds(1));
  // Under kDiscard the status stands.
  absl::StatusOr<HttpResponse> response = TimedSend(client, Request(Method::kGet, server.Url()),
                                                    kShortTimeout, BodyMode::kDiscard, &elapsed);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_LE(elapsed, kShortTimeout + kSlack);
}

TEST(HttpClientTest, ServerThatNeverAnswersTimesOut) {
  for (Reply reply : {ReadThenHang(), Silent()}) {
    SCOPED_TRACE(static_cast<int>(reply.kind));
    TestServer server;
    server.Script({reply});
    HttpClient client;
    absl::Duration elapsed;
    EXPECT_THAT(TimedSend(client, Request(Method::kPost, server.Url(), "{}"), kShortTimeout,
                          BodyMode::kRead, &elapsed),
                StatusIs(absl::StatusCode::kDeadlineExceeded, Eq("timed out after 300ms")));
    EXPECT_LE(elapsed, kShortTimeout + kSlack);
    // It did wait: the deadline is never early (same steady clock).
    EXPECT_GE(elapsed, kShortTimeout - absl::Milliseconds(1));
  }
}

TEST(HttpClientTest, ClosedPortIsUnavailable) {
  HttpClient client;
  const std::string url = absl::StrCat("http://127.0.0.1:", ClosedPort(), "/api/v1/jobs");
  absl::Duration elapsed;
  EXPECT_THAT(TimedSend(client, Request(Method::kGet, url), kTimeout, BodyMode::kRead, &elapsed),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connect to 127.0.0.1:")));
  EXPECT_LT(elapsed, kTimeout);
}

TEST(HttpClientTest, ResolvesHostNames) {
  TestServer server;
  server.Script({Respond(200, "named")});
  HttpClient client;
  absl::StatusOr<HttpResponse> response =
      client.Send(Request(Method::kGet, server.Url("/n", "http", "localhost")), kTimeout);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->body, "named");
}

// ---- HttpClient::Stream: the body piece by piece ------------------------------

// A one-connection server that writes its answer in steps, for bodies that
// must arrive over time: it reads the request's head, then runs `script` on
// its own thread with the socket. Closing is the script's business (the
// socket closes when the server is destroyed otherwise).
class PacedServer {
 public:
  using Script = std::function<void(tcp::socket& socket)>;

  explicit PacedServer(Script script)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        socket_(io_),
        thread_([this, script = std::move(script)] {
          boost::system::error_code ec;
          acceptor_.accept(socket_, ec);
          if (ec) return;
          asio::streambuf head;
          asio::read_until(socket_, head, "\r\n\r\n", ec);
          if (!ec) script(socket_);
        }) {}
  ~PacedServer() {
    thread_.join();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  std::string Url() const {
    return absl::StrCat("http://127.0.0.1:", acceptor_.local_endpoint().port(), "/api/v2/events");
  }

  // Writes `bytes`; false if the client is gone.
  static bool Write(tcp::socket& socket, std::string_view bytes) {
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket socket_;
  std::thread thread_;  // last: it uses the members above
};

// What a Stream call received, for the server's script to wait on.
class Received {
 public:
  // A BodyStream whose callbacks record here; `also` then decides whether to
  // read on (default: yes).
  BodyStream Sink(std::function<bool(std::string_view)> also = nullptr) {
    BodyStream sink;
    sink.on_head = [this](const HttpResponse& head) {
      MutexLock lock(&mu_);
      heads_.push_back(head);
      bytes_at_head_ = bytes_.size();
      return true;
    };
    sink.on_bytes = [this, also = std::move(also)](std::string_view piece) {
      {
        MutexLock lock(&mu_);
        bytes_.append(piece);
        ++pieces_;
      }
      cv_.SignalAll();
      return also == nullptr || also(piece);
    };
    return sink;
  }
  // Waits until the body so far ends with `text`; false after 10 s.
  bool WaitFor(std::string_view text) {
    MutexLock lock(&mu_);
    return cv_.WaitFor(&mu_, std::chrono::seconds(10), [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return bytes_.size() >= text.size() &&
             std::string_view(bytes_).substr(bytes_.size() - text.size()) == text;
    });
  }
  std::string bytes() const {
    MutexLock lock(&mu_);
    return bytes_;
  }
  int pieces() const {
    MutexLock lock(&mu_);
    return pieces_;
  }
  std::vector<HttpResponse> heads() const {
    MutexLock lock(&mu_);
    return heads_;
  }
  size_t bytes_at_head() const {
    MutexLock lock(&mu_);
    return bytes_at_head_;
  }

 private:
  using Mutex = ::cascade::internal::Mutex;
  using MutexLock = ::cascade::internal::MutexLock;
  mutable Mutex mu_;
  ::cascade::internal::CondVar cv_;
  std::string bytes_ ABSL_GUARDED_BY(mu_);
  int pieces_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<HttpResponse> heads_ ABSL_GUARDED_BY(mu_);
  size_t bytes_at_head_ ABSL_GUARDED_BY(mu_) = 0;
};

// The server writes the next piece only once the client has handed the last
// one to its callback: a client that held pieces back until the body ended
// (or its buffer filled) would stall the script, which then gives up.
TEST(HttpClientStreamTest, HandsEachPieceOverAsItArrives) {
  struct Case {
    const char* name;
    std::string head;
    std::function<std::string(const std::string&)> frame;  // one piece on the wire
    std::string end;                                       // after the last piece
  };
  const Case cases[] = {
      {"chunked",
       "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
       [](const std::string& piece) {
         return absl::StrCat(absl::Hex(piece.size()), "\r\n", piece, "\r\n");
       },
       "0\r\n\r\n"},
      {"until close", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
       [](const std::string& piece) { return piece; }, ""},
  };
  const std::vector<std::string> pieces = {"retry: 2000\n\n", "event: transition\nid: 1\n",
                                           "data: {}\n\n", ": keep-alive\n"};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Received received;
    std::atomic<bool> script_waited_in_vain{false};
    {
      PacedServer server([&](tcp::socket& socket) {
        if (!PacedServer::Write(socket, c.head)) return;
        for (const std::string& piece : pieces) {
          if (!PacedServer::Write(socket, c.frame(piece))) return;
          if (!received.WaitFor(piece)) {
            script_waited_in_vain = true;
            return;
          }
        }
        PacedServer::Write(socket, c.end);
        socket.close();
      });
      HttpClient client;
      absl::StatusOr<HttpResponse> response =
          client.Stream(Request(Method::kGet, server.Url()), kTimeout, received.Sink());
      ASSERT_THAT(response, IsOk());
      EXPECT_EQ(response->status, 200);
      EXPECT_THAT(response->body, IsEmpty());
    }
    EXPECT_FALSE(script_waited_in_vain) << "a piece was held back";
    EXPECT_EQ(received.bytes(), absl::StrCat(pieces[0], pieces[1], pieces[2], pieces[3]));
    EXPECT_GE(received.pieces(), static_cast<int>(pieces.size()));
    // The head came first, once, with its headers.
    ASSERT_THAT(received.heads(), SizeIs(1));
    EXPECT_EQ(received.bytes_at_head(), 0u);
    EXPECT_EQ(received.heads()[0].status, 200);
    EXPECT_THAT(received.heads()[0].headers,
                ::testing::Contains(Pair("Content-Type", "text/event-stream")));
  }
}

// `timeout` bounds the exchange up to the headers only: a body that keeps
// coming for longer is read to its end, and only a silence longer than the
// idle limit ends it.
TEST(HttpClientStreamTest, NoDeadlineForTheBodyButAnIdleLimit) {
  {
    PacedServer server([](tcp::socket& socket) {
      if (!PacedServer::Write(socket, "HTTP/1.1 200 OK\r\n\r\n")) return;
      for (int i = 0; i < 8; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!PacedServer::Write(socket, absl::StrCat(i))) return;
      }
      socket.close();
    });
    Received received;
    BodyStream sink = received.Sink();
    sink.idle_timeout = absl::Seconds(5);
    HttpClient client;
    // 800 ms of body against a 300 ms timeout.
    ASSERT_THAT(client.Stream(Request(Method::kGet, server.Url()), kShortTimeout, sink), IsOk());
    EXPECT_EQ(received.bytes(), "01234567");
  }
  {
    Received received;
    PacedServer server([&](tcp::socket& socket) {
      PacedServer::Write(socket, "HTTP/1.1 200 OK\r\n\r\none");
      // Then silence, until the client has gone (the read fails then).
      char byte;
      boost::system::error_code ec;
      socket.read_some(asio::buffer(&byte, 1), ec);
    });
    BodyStream sink = received.Sink();
    sink.idle_timeout = kShortTimeout;
    HttpClient client;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THAT(
        client.Stream(Request(Method::kGet, server.Url()), kTimeout, sink),
        StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("no data from 127.0.0.1:")));
    const absl::Duration elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
    EXPECT_GE(elapsed, kShortTimeout - absl::Milliseconds(1));
    EXPECT_LE(elapsed, kShortTimeout + kSlack);  // not kTimeout
    EXPECT_EQ(received.bytes(), "one");
  }
}

// A callback that returns false ends the call at once with the response,
// though the server would send forever.
TEST(HttpClientStreamTest, CallbacksStopIt) {
  TestServer server;
  const Reply never_ends = Raw("HTTP/1.1 200 OK\r\nX-Stream: 1\r\n\r\nfirst piece", false);
  server.Script({never_ends, never_ends});
  HttpClient client;

  Received received;
  absl::StatusOr<HttpResponse> response =
      client.Stream(Request(Method::kGet, server.Url()), kTimeout,
                    received.Sink([](std::string_view) { return false; }));
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->headers, ElementsAre(Pair("X-Stream", "1")));
  EXPECT_EQ(received.bytes(), "first piece");

  BodyStream head_only;
  int heads = 0;
  bool got_bytes = false;
  head_only.on_head = [&](const HttpResponse& head) {
    ++heads;
    return false;
  };
  head_only.on_bytes = [&](std::string_view) {
    got_bytes = true;
    return true;
  };
  response = client.Stream(Request(Method::kGet, server.Url()), kTimeout, head_only);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(heads, 1);
  EXPECT_FALSE(got_bytes);
}

// The cancel flag stops a call waiting at any step: for the response's head,
// or for more body; set before the call, nothing is sent.
TEST(HttpClientStreamTest, CancelFlagStopsItWithCancelled) {
  {
    TestServer server;
    server.Script({ReadThenHang()});
    std::atomic<bool> cancel{false};
    BodyStream sink;
    sink.on_bytes = [](std::string_view) { return true; };
    sink.cancel = &cancel;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      cancel = true;
    });
    HttpClient client;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THAT(client.Stream(Request(Method::kGet, server.Url()), absl::Seconds(30), sink),
                StatusIs(absl::StatusCode::kCancelled));
    canceller.join();
    EXPECT_LE(absl::FromChrono(std::chrono::steady_clock::now() - start), kSlack);
  }
  {
    TestServer server;
    server.Script({Raw("HTTP/1.1 200 OK\r\n\r\nsome", false)});
    std::atomic<bool> cancel{false};
    Received received;
    // The first piece raises the flag, as a signal handler would.
    BodyStream sink = received.Sink([&](std::string_view) {
      cancel = true;
      return true;
    });
    sink.cancel = &cancel;
    sink.idle_timeout = absl::Seconds(30);
    HttpClient client;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THAT(client.Stream(Request(Method::kGet, server.Url()), kTimeout, sink),
                StatusIs(absl::StatusCode::kCancelled));
    EXPECT_LE(absl::FromChrono(std::chrono::steady_clock::now() - start), kSlack);
    EXPECT_EQ(received.bytes(), "some");
  }
  {
    TestServer server;
    std::atomic<bool> cancel{true};
    BodyStream sink;
    sink.on_bytes = [](std::string_view) { return true; };
    sink.cancel = &cancel;
    HttpClient client;
    EXPECT_THAT(client.Stream(Request(Method::kGet, server.Url()), kTimeout, sink),
                StatusIs(absl::StatusCode::kCancelled));
    EXPECT_EQ(server.accepted(), 0);
  }
}

// An error answer is a response like any other, its body streamed (the
// caller reads the error JSON from it); broken bodies and bad arguments are
// errors.
TEST(HttpClientStreamTest, ErrorAnswersBrokenBodiesAndBadArguments) {
  TestServer server;
  const std::string error = R"({"error":"unknown token","errorCode":"unauthenticated"})";
  server.Script({
      Raw(absl::StrCat("HTTP/1.1 401 Unauthorized\r\nContent-Length: ", error.size(), "\r\n\r\n",
                       error)),
      Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
      Raw("HTTP/1.1 200 OK\r\nContent"),
      Respond(204),
  });
  HttpClient client;
  Received received;
  absl::StatusOr<HttpResponse> response =
      client.Stream(Request(Method::kGet, server.Url()), kTimeout, received.Sink());
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(received.bytes(), error);

  Received cut;
  EXPECT_THAT(client.Stream(Request(Method::kGet, server.Url()), kTimeout, cut.Sink()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("connection closed before the body ended")));
  EXPECT_EQ(cut.bytes(), "hello");
  Received broken;
  EXPECT_THAT(client.Stream(Request(Method::kGet, server.Url()), kTimeout, broken.Sink()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("read response")));
  Received empty;
  response = client.Stream(Request(Method::kGet, server.Url()), kTimeout, empty.Sink());
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(empty.pieces(), 0);
  EXPECT_EQ(server.accepted(), 4);

  BodyStream no_callback;
  EXPECT_THAT(client.Stream(Request(Method::kGet, server.Url()), kTimeout, no_callback),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("on_bytes")));
  BodyStream no_idle = received.Sink();
  no_idle.idle_timeout = absl::ZeroDuration();
  EXPECT_THAT(client.Stream(Request(Method::kGet, server.Url()), kTimeout, no_idle),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("idle_timeout")));
  EXPECT_EQ(server.accepted(), 4);  // nothing sent for those
}

}  // namespace
}  // namespace cascade::net
