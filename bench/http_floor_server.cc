// Copyright 2026 The Cascade Authors.
//
// File: bench/http_floor_server.cc
// -----------------------------------------------------------------------------
// cascade_http_floor: the HTTP floor of contract §12's HTTP row. A minimal
// Boost.Beast HTTP/1.1 server, the shape of Beast's own asynchronous server
// example, that answers every request with a fixed body and does nothing
// else: no routing, no authentication, no JSON, no engine. Whatever
// cascade-server spends per request beyond this is its own work.
//
//   cascade_http_floor [--threads N] [--get-bytes N] [--post-bytes N]
//
// It answers POST with 201 and a body of --post-bytes bytes (cascade-server's
// answer to POST /api/v2/jobs is a JobCreationResponse of about that size),
// and every other method with 200 and a body of --get-bytes bytes (the size
// of GET /api/v2/jobs/{id}'s Job). bench/http_benchmark.py measures both on
// cascade-server first and passes them here.
//
// The threading is cascade-server's (server/http_server.cc), so that the
// comparison is of the work per request, not of the architecture: --threads
// threads (default: as cascade-server in memory, the number of cores and at
// least 2) run one io_context; each connection lives on a strand of its own,
// behind a beast::tcp_stream with a deadline on every read and write, with
// TCP_NODELAY; connections are persistent unless the request says otherwise.
//
// Listens on 127.0.0.1 on a free port, prints "listening on 127.0.0.1:PORT"
// and runs until SIGINT or SIGTERM.

#include <signal.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/signal_set.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core/error.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// cascade-server's read and write deadline (HttpServerOptions::read_timeout).
constexpr auto kTimeout = std::chrono::seconds(30);

// A JSON object of exactly `bytes` bytes (at least the 10 of {"pad":""}).
std::string FixedBody(size_t bytes) {
  constexpr std::string_view kOpen = "{\"pad\":\"", kClose = "\"}";
  const size_t pad =
      bytes > kOpen.size() + kClose.size() ? bytes - kOpen.size() - kClose.size() : 0;
  return std::string(kOpen) + std::string(pad, 'x') + std::string(kClose);
}

struct Bodies {
  std::string get;   // 200, every method but POST
  std::string post;  // 201
};

// One connection: read a request, write the fixed answer, again while the
// client keeps the connection open.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const Bodies* bodies)
      : stream_(std::move(socket)), bodies_(bodies) {}

  void Start() {
    boost::system::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
    Read();
  }

 private:
  void Read() {
    request_ = {};
    stream_.expires_after(kTimeout);
    http::async_read(
        stream_, buffer_, request_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Close();  // the client closed, a timeout, a malformed request
    const bool post = request_.method() == http::verb::post;
    response_ = {};
    response_.version(request_.version());
    response_.result(post ? http::status::created : http::status::ok);
    response_.set(http::field::server, "cascade-http-floor");
    response_.set(http::field::content_type, "application/json");
    response_.body() = post ? bodies_->post : bodies_->get;
    response_.prepare_payload();
    response_.keep_alive(request_.keep_alive());
    stream_.expires_after(kTimeout);
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
  }

  void OnWritten(beast::error_code ec) {
    if (ec || !response_.keep_alive()) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  const Bodies* const bodies_;
};

class Listener {
 public:
  Listener(asio::io_context& io, const Bodies* bodies)
      : io_(io), acceptor_(asio::make_strand(io)), bodies_(bodies) {}

  // Binds 127.0.0.1 on a free port; returns the port, 0 on failure.
  unsigned short Listen() {
    beast::error_code ec;
    const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::fprintf(stderr, "cascade_http_floor: cannot listen: %s\n", ec.message().c_str());
      return 0;
    }
    Accept();
    return acceptor_.local_endpoint(ec).port();
  }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_),
                           [this](beast::error_code ec, tcp::socket socket) {
                             if (!ec) {
                               std::make_shared<Connection>(std::move(socket), bodies_)->Start();
                             }
                             if (acceptor_.is_open()) Accept();
                           });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  const Bodies* const bodies_;
};

bool ParseSize(const char* text, long min, long max, long* out) {
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, *out);
  return ec == std::errc() && ptr == end && *out >= min && *out <= max;
}

int Usage() {
  std::fprintf(stderr,
               "usage: cascade_http_floor [--threads N] [--get-bytes N] [--post-bytes N]\n"
               "  --threads N     I/O threads, 1-1024 (default: cores, at least 2)\n"
               "  --get-bytes N   body of every answer but POST's, 10-10485760 (default 600)\n"
               "  --post-bytes N  body of the 201 to a POST, 10-10485760 (default 150)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long threads = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  long get_bytes = 600, post_bytes = 150;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    long* target = flag == "--threads"      ? &threads
                   : flag == "--get-bytes"  ? &get_bytes
                   : flag == "--post-bytes" ? &post_bytes
                                            : nullptr;
    if (target == nullptr || i + 1 == argc) return Usage();
    const long min = target == &threads ? 1 : 10;
    const long max = target == &threads ? 1024 : 10L << 20;
    if (!ParseSize(argv[++i], min, max, target)) {
      std::fprintf(stderr, "cascade_http_floor: %s wants an integer in [%ld, %ld], not '%s'\n",
                   argv[i - 1], min, max, argv[i]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  const Bodies bodies{FixedBody(static_cast<size_t>(get_bytes)),
                      FixedBody(static_cast<size_t>(post_bytes))};
  asio::io_context io;
  Listener listener(io, &bodies);
  const unsigned short port = listener.Listen();
  if (port == 0) return 1;
  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&io](beast::error_code, int) { io.stop(); });
  std::printf("listening on 127.0.0.1:%u (%ld threads; bodies: GET %zu B, POST %zu B)\n", port,
              threads, bodies.get.size(), bodies.post.size());
  std::fflush(stdout);
  std::vector<std::thread> pool;
  for (long i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (std::thread& t : pool) t.join();
  return 0;
}
