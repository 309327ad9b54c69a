// Copyright 2026 The Cascade Authors.
//
// A cascade-server in the test's process: the engine cascade-server makes
// from its command line (in memory, on a ManualClock), the API handler, and
// the real HTTP server on a loopback port; and an HTTP client that sends one
// request per connection with any method and headers. For the suites that
// drive the server over HTTP (tests/server_v1_test.cc,
// tests/server_logs_test.cc).

#ifndef CASCADE_TESTS_SERVER_HARNESS_H_
#define CASCADE_TESTS_SERVER_HARNESS_H_

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cascade/cascade.h"
#include "gtest/gtest.h"
#include "server/api.h"
#include "server/flags.h"
#include "server/http_server.h"

namespace cascade::testing {

// One HTTP answer.
struct HttpAnswer {
  int status = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  boost::json::value Json() const {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << body;
    return v;
  }
  // The first header named `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        return v;
      }
    }
    return "";
  }
};

class ServerHarness {
 public:
  // `args`: cascade-server flags (the engine's and the API's: --v1-secret,
  // --v1-lease-seconds, --lease-seconds, ...); tokens come from `tokens`
  // (client token -> team) and `worker_token`.
  ServerHarness(std::vector<std::string> args,
                std::vector<std::pair<std::string, std::string>> tokens, std::string worker_token) {
    args.insert(args.begin(), {"--data", ":memory:"});
    const server::ServerFlags flags = server::ParseFlags(args).value();
    Options options = server::EngineOptions(flags);
    options.clock = &clock_;
    options.id_seed = 29;
    engine_ = Engine::Create(options).value();
    server::ApiOptions api;
    api.client_tokens = std::move(tokens);
    api.worker_tokens = {std::move(worker_token)};
    api.v1_secrets = flags.v1_secrets;
    api.v1_lease = flags.v1_lease;
    api.events.window = static_cast<size_t>(flags.events_window);
    api.events.max_streams = static_cast<size_t>(flags.max_event_streams);
    api.clock = &clock_;
    api_ = std::make_unique<server::Api>(engine_.get(), api);
    server::HttpServerOptions http;
    http.port = 0;
    http.threads = 2;
    server_ = server::HttpServer::Start(http, [this](const server::Request& r) {
                return api_->Handle(r);
              }).value();
  }

  // One request on a fresh connection, with `headers` ({name, value}).
  HttpAnswer Call(boost::beast::http::verb method, const std::string& target,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body = "") {
    namespace beast = boost::beast;
    namespace http = beast::http;
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    // A response to HEAD has a Content-Length but no body.
    parser.skip(method == http::verb::head);
    http::read(stream, buffer, parser);
    http::response<http::string_body> response = parser.release();
    beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    HttpAnswer answer{static_cast<int>(response.result_int()),
                      std::string(response[http::field::content_type]),
                      {},
                      response.body()};
    for (const auto& field : response) {
      answer.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return answer;
  }

  // Advances the clock and runs what became due.
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    engine_->RunDueWork();
  }

  Engine& engine() { return *engine_; }
  server::Api& api() { return *api_; }
  uint16_t port() const { return server_->port(); }
  ManualClock& clock() { return clock_; }

 private:
  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<server::Api> api_;
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_SERVER_HARNESS_H_
