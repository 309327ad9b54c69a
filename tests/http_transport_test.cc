// Copyright 2026 The Cascade Authors.
//
// The built-in webhook transport (engine/webhook/http_transport.h) against a
// scripted loopback server, plus the HTTP method names and the webhook
// signature. The transport is an adapter over net::HttpClient; these tests
// hold it to the webhook behaviour (status only, body discarded). The URL
// parser and the client's own behaviour (bodies read whole, limits) are
// tests/http_client_test.cc's.
//
// TestServer is the LoopbackHttpServer of tests/loopback_http_server.h: it
// listens on 127.0.0.1 (an ephemeral port) on its own thread, answers each
// connection from a script and records every request it reads. Here it also
// speaks TLS with a self-signed certificate made at start-up: a global
// environment writes the "trusted" one to a file and points SSL_CERT_FILE at
// it, which OpenSSL's default verify paths (those the transport uses) honour.
//
// Nothing here measures speed. Timeouts are asserted only as upper bounds,
// with two seconds to spare: this runs on a shared 2-core machine, under
// sanitizers too.

#include "engine/webhook/http_transport.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "cascade/webhook.h"
#include "engine/util/strings.h"
#include "engine/webhook/signature.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/loopback_http_server.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

using ::cascade::internal::HttpTransport;
using ::cascade::internal::Sv;
using ::cascade::testing::IsOk;
using ::cascade::testing::Raw;
using ::cascade::testing::ReadThenHang;
using ::cascade::testing::Reply;
using ::cascade::testing::Respond;
using ::cascade::testing::SeenRequest;
using ::cascade::testing::Silent;
using ::cascade::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::SizeIs;

using Headers = std::vector<std::pair<std::string, std::string>>;
using TestServer = ::cascade::testing::LoopbackHttpServer;

// Generous: a normal exchange on loopback takes milliseconds.
constexpr absl::Duration kTimeout = absl::Seconds(10);
// For the tests that wait for a timeout.
constexpr absl::Duration kShortTimeout = absl::Milliseconds(300);
// What a timed-out Send may take beyond its timeout.
constexpr absl::Duration kSlack = absl::Seconds(2);

// ---- Certificates -----------------------------------------------------------

struct TestCertificate {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
  std::string pem;  // the certificate
};

// A self-signed P-256 certificate, valid from an hour ago for a day, for the
// subjectAltName `san` ("DNS:localhost").
TestCertificate MakeSelfSigned(const char* san) {
  TestCertificate out;
  out.key.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
  out.cert.reset(X509_new(), X509_free);
  X509* cert = out.cert.get();
  if (out.key == nullptr || cert == nullptr) std::abort();
  X509_set_version(cert, X509_VERSION_3);
  static int serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, out.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("cascade test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san);
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) std::abort();
  X509_EXTENSION_free(ext);
  if (X509_sign(cert, out.key.get(), EVP_sha256()) == 0) std::abort();
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  out.pem.assign(data, size);
  BIO_free(bio);
  return out;
}

// Makes the trusted and the untrusted certificate and trusts the first
// (SSL_CERT_FILE) before any test, and so any thread, runs.
class TlsEnvironment : public ::testing::Environment {
 public:
  static const TestCertificate& Trusted() { return *trusted_; }
  static const TestCertificate& Untrusted() { return *untrusted_; }

  void SetUp() override {
    trusted_ = new TestCertificate(MakeSelfSigned("DNS:localhost"));
    untrusted_ = new TestCertificate(MakeSelfSigned("DNS:localhost"));
    path_ = absl::StrCat(::testing::TempDir(), "cascade_http_transport_test_", getpid(), ".pem");
    std::ofstream(path_) << trusted_->pem;
    setenv("SSL_CERT_FILE", path_.c_str(), 1);
  }
  void TearDown() override { std::remove(path_.c_str()); }

 private:
  static inline TestCertificate* trusted_ = nullptr;
  static inline TestCertificate* untrusted_ = nullptr;
  std::string path_;
};

[[maybe_unused]] ::testing::Environment* const kTlsEnvironment =
    ::testing::AddGlobalTestEnvironment(new TlsEnvironment);

// A server-side TLS context presenting `certificate`.
std::unique_ptr<ssl::context> ServerTls(const TestCertificate& certificate) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  if (SSL_CTX_use_certificate(context->native_handle(), certificate.cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(context->native_handle(), certificate.key.get()) != 1) {
    std::abort();
  }
  return context;
}

// ---- Helpers ----------------------------------------------------------------

// EXPECT_THAT(transport.Send(...), IsOkAndHolds(200));
MATCHER_P(IsOkAndHolds, value, absl::StrCat("is OK and holds ", value)) {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  *result_listener << "holds " << *arg;
  return *arg == value;
}

WebhookRequest Post(std::string url, std::string body = R"({"a":1})", Headers headers = {}) {
  WebhookRequest request;
  request.url = std::move(url);
  request.method = HttpMethod::kPost;
  request.headers = std::move(headers);
  request.body = std::move(body);
  return request;
}

// Runs transport.Send and measures how long it took.
absl::StatusOr<int> TimedSend(WebhookTransport& transport, const WebhookRequest& request,
                              absl::Duration timeout, absl::Duration* elapsed) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<int> result = transport.Send(request, timeout);
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

// ---- Method names -----------------------------------------------------------

TEST(HttpMethodTest, NamesRoundTrip) {
  for (HttpMethod method :
       {HttpMethod::kGet, HttpMethod::kPost, HttpMethod::kPut, HttpMethod::kDelete}) {
    absl::StatusOr<HttpMethod> parsed = ParseHttpMethod(HttpMethodName(method));
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, method);
  }
  EXPECT_EQ(HttpMethodName(HttpMethod::kGet), "GET");
  EXPECT_EQ(HttpMethodName(HttpMethod::kPost), "POST");
  EXPECT_EQ(HttpMethodName(HttpMethod::kPut), "PUT");
  EXPECT_EQ(HttpMethodName(HttpMethod::kDelete), "DELETE");
}

TEST(HttpMethodTest, ParseIsExactAndUpperCase) {
  for (const char* bad : {"get", "Post", "PATCH", "HEAD", "", " GET", "GET "}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseHttpMethod(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

// ---- Signatures (RFC 4231 test vectors) ----------------------------------------

TEST(WebhookSignatureTest, Rfc4231Case1) {
  EXPECT_EQ(WebhookSignature(std::string(20, '\x0b'), "Hi There"),
            "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(WebhookSignatureTest, Rfc4231Case2) {
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSignatureTest, Rfc4231Case6KeyLongerThanABlock) {
  EXPECT_EQ(WebhookSignature(std::string(131, '\xaa'),
                             "Test Using Larger Than Block-Size Key - Hash Key First"),
            "sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(WebhookSignatureTest, EmptyBodyAndEmptyKey) {
  // Values from Python's hmac module.
  EXPECT_EQ(WebhookSignature("s3cret", ""),
            "sha256=91dfac70c5348b04e1babb8b421ac92cec08b565b49ca16130dccb72503647b7");
  EXPECT_EQ(WebhookSignature(std::string_view(), std::string_view()),
            "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// ---- HttpTransport over plain HTTP ---------------------------------------------

TEST(HttpTransportTest, ReturnsEachStatusAndSendsTheExactRequest) {
  TestServer server;
  server.Script({Respond(500, "oops"), Respond(500), Respond(200, "thanks")});
  std::unique_ptr<WebhookTransport> transport = WebhookTransport::CreateHttp();
  const std::string body = R"({"id":"01J","state":"finished"})";
  const WebhookRequest request = Post(server.Url("/hooks/render?team=a&x=%20y#not-sent"), body,
                                      {{"X-Render-Farm", "north"},
                                       {"Content-Type", "application/json"},
                                       {"Cascade-Delivery-Id", "01HZX3C5Y5V7E8W3J6T9Q2M1NB"},
                                       {"x-lower-case", "kept as sent"}});

  EXPECT_THAT(transport->Send(request, kTimeout), IsOkAndHolds(500));
  EXPECT_THAT(transport->Send(request, kTimeout), IsOkAndHolds(500));
  EXPECT_THAT(transport->Send(request, kTimeout), IsOkAndHolds(200));

  const std::vector<SeenRequest> seen = server.requests();
  ASSERT_THAT(seen, SizeIs(3));
  for (const SeenRequest& s : seen) {
    EXPECT_EQ(s.method, "POST");
    EXPECT_EQ(s.target, "/hooks/render?team=a&x=%20y");
    EXPECT_THAT(s.headers, ElementsAre(Pair("Host", absl::StrCat("127.0.0.1:", server.port())),
                                       Pair("User-Agent", "cascade/0.1"),
                                       Pair("Content-Length", absl::StrCat(body.size())),
                                       Pair("X-Render-Farm", "north"),
                                       Pair("Content-Type", "application/json"),
                                       Pair("Cascade-Delivery-Id", "01HZX3C5Y5V7E8W3J6T9Q2M1NB"),
                                       Pair("x-lower-case", "kept as sent")));
    EXPECT_EQ(s.body, body);
  }
  EXPECT_EQ(server.accepted(), 3);  // one connection per request
}

TEST(HttpTransportTest, ServerThatNeverAnswersTimesOut) {
  for (Reply reply : {ReadThenHang(), Silent()}) {
    SCOPED_TRACE(static_cast<int>(reply.kind));
    TestServer server;
    server.Script({reply});
    HttpTransport transport;
    absl::Duration elapsed;
    EXPECT_THAT(TimedSend(transport, Post(server.Url()), kShortTimeout, &elapsed),
                StatusIs(absl::StatusCode::kDeadlineExceeded, Eq("timed out after 300ms")));
    EXPECT_LE(elapsed, kShortTimeout + kSlack);
    // It did wait: the deadline is never early (same steady clock).
    EXPECT_GE(elapsed, kShortTimeout - absl::Milliseconds(1));
  }
}

TEST(HttpTransportTest, ClosedPortIsUnavailable) {
  HttpTransport transport;
  const std::string url = absl::StrCat("http://127.0.0.1:", ClosedPort(), "/hook");
  absl::Duration elapsed;
  EXPECT_THAT(TimedSend(transport, Post(url), kTimeout, &elapsed),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connect to 127.0.0.1:")));
  EXPECT_LE(elapsed, kTimeout);
}

TEST(HttpTransportTest, BadUrlsAndHeadersAreInvalidAndSendNothing) {
  TestServer server;
  HttpTransport transport;
  const std::string port = absl::StrCat(server.port());
  for (std::string url : {
           absl::StrCat("ftp://127.0.0.1:", port, "/"),
           std::string("ftp://x"),
           std::string("http://"),
           std::string("http://host:99999/"),
           std::string("not a url"),
           std::string("http://user@host/"),
           absl::StrCat("http://user@127.0.0.1:", port, "/"),
           absl::StrCat("http://127.0.0.1:", port, "/a b"),
       }) {
    SCOPED_TRACE(url);
    EXPECT_THAT(transport.Send(Post(url), kTimeout), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  for (Headers headers : {
           Headers{{"Host", "evil.example.com"}},
           Headers{{"content-length", "5"}},
           Headers{{"Transfer-Encoding", "chunked"}},
           Headers{{"X-Ok", "fine"}, {"Bad Name", "v"}},
           Headers{{"", "v"}},
           Headers{{"X-Split", "a\r\nX-Injected: 1"}},
           Headers{{"X-Nul", std::string("a\0b", 3)}},
       }) {
    SCOPED_TRACE(headers.back().first);
    EXPECT_THAT(transport.Send(Post(server.Url(), "{}", headers), kTimeout),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // A good request afterwards is the first and only thing the server sees.
  EXPECT_THAT(transport.Send(Post(server.Url("/good")), kTimeout), IsOkAndHolds(200));
  EXPECT_EQ(server.accepted(), 1);
  ASSERT_THAT(server.requests(), SizeIs(1));
  EXPECT_EQ(server.requests()[0].target, "/good");
}

TEST(HttpTransportTest, NonPositiveTimeoutSendsNothing) {
  TestServer server;
  HttpTransport transport;
  EXPECT_THAT(transport.Send(Post(server.Url()), absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(transport.Send(Post(server.Url()), absl::Seconds(-1)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(transport.Send(Post(server.Url()), kTimeout), IsOkAndHolds(200));
  EXPECT_EQ(server.accepted(), 1);
}

// The decision documented in net/http_client.h: Content-Length when there is a
// body, and 0 for a POST or PUT without one; none for a bodiless GET or DELETE.
TEST(HttpTransportTest, ContentLengthOnlyWhenTheMethodCarriesABody) {
  struct Case {
    HttpMethod method;
    std::string body;
    const char* content_length;  // null: no header
  };
  const Case cases[] = {
      {HttpMethod::kGet, "", nullptr},      {HttpMethod::kDelete, "", nullptr},
      {HttpMethod::kPost, "", "0"},         {HttpMethod::kPut, "", "0"},
      {HttpMethod::kPut, "{\"b\":2}", "7"}, {HttpMethod::kGet, "{}", "2"},
  };
  TestServer server;
  HttpTransport transport;
  for (const Case& c : cases) {
    WebhookRequest request;
    request.url = server.Url("/m");
    request.method = c.method;
    request.body = c.body;
    EXPECT_THAT(transport.Send(request, kTimeout), IsOkAndHolds(200));
  }
  const std::vector<SeenRequest> seen = server.requests();
  ASSERT_THAT(seen, SizeIs(std::size(cases)));
  for (size_t i = 0; i < seen.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(absl::StrCat(Sv(HttpMethodName(c.method)), " with body \"", c.body, "\""));
    EXPECT_EQ(seen[i].method, HttpMethodName(c.method));
    EXPECT_EQ(seen[i].body, c.body);
    Headers expected = {{"Host", absl::StrCat("127.0.0.1:", server.port())},
                        {"User-Agent", "cascade/0.1"}};
    if (c.content_length != nullptr) expected.emplace_back("Content-Length", c.content_length);
    EXPECT_EQ(seen[i].headers, expected);
  }
}

TEST(HttpTransportTest, RequestUserAgentReplacesTheTransports) {
  TestServer server;
  HttpTransport transport;
  EXPECT_THAT(transport.Send(Post(server.Url(), "{}", {{"user-agent", "render-farm/7"}}), kTimeout),
              IsOkAndHolds(200));
  ASSERT_THAT(server.requests(), SizeIs(1));
  EXPECT_THAT(server.requests()[0].headers,
              ElementsAre(Pair("Host", absl::StrCat("127.0.0.1:", server.port())),
                          Pair("Content-Length", "2"), Pair("user-agent", "render-farm/7")));
}

TEST(HttpTransportTest, LargeResponseBodiesAreDiscarded) {
  const std::string big(1 << 20, 'x');  // 16 times the read limit
  std::string chunked = "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 256; ++i)
    absl::StrAppend(&chunked, "1000\r\n", std::string(4096, 'y'), "\r\n");
  absl::StrAppend(&chunked, "0\r\n\r\n");
  TestServer server;
  server.Script({
      Respond(200, big),                                       // Content-Length
      Raw(chunked),                                            // chunked
      Raw(absl::StrCat("HTTP/1.1 201 Created\r\n\r\n", big)),  // until the server closes
      Respond(204),                                            // no body at all
      Respond(404, std::string(1000, 'z')),                    // under the limit
  });
  HttpTransport transport;
  absl::Duration elapsed;
  for (int expected : {200, 202, 201, 204, 404}) {
    EXPECT_THAT(TimedSend(transport, Post(server.Url()), kTimeout, &elapsed),
                IsOkAndHolds(expected));
    EXPECT_LT(elapsed, kTimeout);  // the body did not hold it to the deadline
  }
}

TEST(HttpTransportTest, InterimResponsesAreSkipped) {
  TestServer server;
  server.Script(
      {Raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
           "HTTP/1.1 204 No Content\r\n\r\n")});
  HttpTransport transport;
  EXPECT_THAT(transport.Send(Post(server.Url()), kTimeout), IsOkAndHolds(204));
}

TEST(HttpTransportTest, StatusStandsWhenTheBodyStalls) {
  TestServer server;
  server.Script({Raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some", false)});
  HttpTransport transport;
  absl::Duration elapsed;
  EXPECT_THAT(TimedSend(transport, Post(server.Url()), kShortTimeout, &elapsed), IsOkAndHolds(200));
  EXPECT_LE(elapsed, kShortTimeout + kSlack);
}

TEST(HttpTransportTest, BrokenResponsesAreUnavailable) {
  TestServer server;
  server.Script({
      Raw(""),                            // closes without a byte
      Raw("HTTP/1.1 200 OK\r\nContent"),  // closes inside the header
      Raw("hello there\r\n\r\n"),         // not HTTP
      Raw("HTTP/1.1 2000 Big\r\n\r\n"),   // not a status
  });
  HttpTransport transport;
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(transport.Send(Post(server.Url()), kTimeout),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("read response from")));
  }
}

TEST(HttpTransportTest, ResolvesHostNames) {
  TestServer server;
  HttpTransport transport;
  EXPECT_THAT(transport.Send(Post(server.Url("/named", "http", "localhost")), kTimeout),
              IsOkAndHolds(200));
  ASSERT_THAT(server.requests(), SizeIs(1));
  EXPECT_EQ(server.requests()[0].headers[0].second, absl::StrCat("localhost:", server.port()));
}

TEST(HttpTransportTest, UnresolvableHostFailsWithinTheTimeout) {
  HttpTransport transport;
  absl::Duration elapsed;
  // .invalid never resolves (RFC 6761). Whether the resolver says so before
  // the deadline depends on the machine's DNS, so both answers are right;
  // what matters is that Send is bounded either way.
  EXPECT_THAT(
      TimedSend(transport, Post("http://no-such-host.invalid/hook"), absl::Seconds(2), &elapsed),
      AnyOf(StatusIs(absl::StatusCode::kUnavailable, HasSubstr("resolve no-such-host")),
            StatusIs(absl::StatusCode::kDeadlineExceeded)));
  EXPECT_LE(elapsed, absl::Seconds(2) + kSlack);
}

TEST(HttpTransportTest, ConcurrentSendsAllSucceed) {
  constexpr int kThreads = 4;
  constexpr int kSendsPerThread = 10;
  TestServer server;
  HttpTransport transport;  // one transport, shared, as the engine does
  std::vector<std::vector<absl::StatusOr<int>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSendsPerThread; ++i) {
        results[t].push_back(transport.Send(
            Post(server.Url(absl::StrCat("/t", t, "/", i)), absl::StrCat("{\"n\":", i, "}")),
            kTimeout));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& per_thread : results) {
    for (const absl::StatusOr<int>& result : per_thread) {
      EXPECT_THAT(result, IsOkAndHolds(200));
    }
  }
  const std::vector<SeenRequest> seen = server.requests();
  ASSERT_THAT(seen, SizeIs(kThreads * kSendsPerThread));
  std::set<std::string> targets;
  for (const SeenRequest& s : seen) targets.insert(s.target);
  EXPECT_THAT(targets, SizeIs(kThreads * kSendsPerThread));
}

// ---- HttpTransport over TLS ----------------------------------------------------

TEST(HttpTransportTlsTest, HttpsToAPlainServerIsUnavailable) {
  TestServer server;  // plain: it reads the ClientHello as a bad request and closes
  HttpTransport transport;
  absl::Duration elapsed;
  EXPECT_THAT(TimedSend(transport, Post(server.Url("/", "https")), absl::Seconds(5), &elapsed),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("TLS handshake with 127.0.0.1")));
  EXPECT_LE(elapsed, absl::Seconds(5));
  EXPECT_THAT(server.requests(), SizeIs(0));
}

TEST(HttpTransportTlsTest, SilentServerTimesOutInTheHandshake) {
  TestServer server;
  server.Script({Silent()});
  HttpTransport transport;
  absl::Duration elapsed;
  EXPECT_THAT(TimedSend(transport, Post(server.Url("/", "https")), kShortTimeout, &elapsed),
              StatusIs(absl::StatusCode::kDeadlineExceeded, Eq("timed out after 300ms")));
  EXPECT_LE(elapsed, kShortTimeout + kSlack);
}

TEST(HttpTransportTlsTest, TrustedCertificateForTheNameIsAccepted) {
  std::unique_ptr<ssl::context> tls = ServerTls(TlsEnvironment::Trusted());
  TestServer server(tls.get());
  server.Script({Respond(201, "created")});
  HttpTransport transport;
  EXPECT_THAT(transport.Send(Post(server.Url("/secure?x=1", "https", "localhost")), kTimeout),
              IsOkAndHolds(201));
  const std::vector<SeenRequest> seen = server.requests();
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].sni, "localhost");
  EXPECT_EQ(seen[0].target, "/secure?x=1");
  EXPECT_EQ(seen[0].body, R"({"a":1})");
  // The context is built once and shared: a second send works the same way.
  EXPECT_THAT(transport.Send(Post(server.Url("/again", "https", "localhost")), kTimeout),
              IsOkAndHolds(200));
}

TEST(HttpTransportTlsTest, UntrustedCertificateIsUnavailable) {
  std::unique_ptr<ssl::context> tls = ServerTls(TlsEnvironment::Untrusted());
  TestServer server(tls.get());
  HttpTransport transport;
  EXPECT_THAT(transport.Send(Post(server.Url("/", "https", "localhost")), kTimeout),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("certificate verify failed")));
  EXPECT_THAT(server.requests(), SizeIs(0));
}

TEST(HttpTransportTlsTest, CertificateForAnotherHostIsUnavailable) {
  // The certificate names DNS:localhost only; the URL names 127.0.0.1.
  std::unique_ptr<ssl::context> tls = ServerTls(TlsEnvironment::Trusted());
  TestServer server(tls.get());
  HttpTransport transport;
  EXPECT_THAT(transport.Send(Post(server.Url("/", "https", "127.0.0.1")), kTimeout),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("IP address mismatch")));
  EXPECT_THAT(server.requests(), SizeIs(0));
}

}  // namespace
}  // namespace cascade
