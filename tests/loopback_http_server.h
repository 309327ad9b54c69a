// Copyright 2026 The Cascade Authors.
//
// File: tests/loopback_http_server.h
// -----------------------------------------------------------------------------
// A scriptable HTTP/1.1 server on 127.0.0.1 for tests of the webhook
// transport and of the engine's deliveries over it.
//
// LoopbackHttpServer listens on an ephemeral port, on a thread of its own,
// with Boost.Beast. Each connection it accepts takes the next scripted Reply,
// or the default one once the script is used up ("200, ok" unless set): write
// raw bytes after reading the request, read the request and then hold the
// connection, or stay silent. It records every request it reads, field by
// field, in arrival order. Given a server-side TLS context it speaks TLS
// (making and trusting certificates is the test's business).
//
// Example:
//
//   cascade::testing::LoopbackHttpServer server;
//   server.Script({Respond(500), Respond(503)});  // then the default
//   server.SetDefault(ReadThenHang());            // instead of "200, ok"
//   ...send to server.Url("/hook")...
//   ASSERT_TRUE(server.WaitForRequests(3, absl::Seconds(10)));
//   EXPECT_EQ(server.requests()[0].target, "/hook");
//
// Thread-safe. Header-only. Connections stay open until the server is
// destroyed, unless a Reply closes them.

#ifndef CASCADE_TESTS_LOOPBACK_HTTP_SERVER_H_
#define CASCADE_TESTS_LOOPBACK_HTTP_SERVER_H_

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/stream_traits.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "engine/util/strings.h"

namespace cascade::testing {

// A request as the server read it.
struct SeenRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;
  std::string sni;  // the TLS server name, if any
};

// What the server does with one connection.
struct Reply {
  enum class Kind {
    kRaw,           // read the request, write `raw`, then close unless told not to
    kReadThenHang,  // read the request, then neither answer nor close
    kSilent,        // never read, never answer, never close
  };
  Kind kind = Kind::kRaw;
  std::string raw;
  bool close_after = true;
};

// A complete response with `status` and `body` (Content-Length framed).
inline Reply Respond(int status, const std::string& body = "") {
  return {Reply::Kind::kRaw, absl::StrFormat("HTTP/1.1 %d Whatever\r\nContent-Length: %d\r\n\r\n%s",
                                             status, body.size(), body)};
}
// Exactly these bytes, then close (unless `close_after` is false).
inline Reply Raw(std::string raw, bool close_after = true) {
  return {Reply::Kind::kRaw, std::move(raw), close_after};
}
inline Reply ReadThenHang() { return {Reply::Kind::kReadThenHang, "", false}; }
inline Reply Silent() { return {Reply::Kind::kSilent, "", false}; }

class LoopbackHttpServer {
 public:
  // Plain HTTP, or TLS with `tls` (which must outlive the server).
  explicit LoopbackHttpServer(boost::asio::ssl::context* tls = nullptr)
      : tls_(tls), acceptor_(io_) {
    const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LoopbackHttpServer() {
    boost::asio::post(io_, [this] {
      acceptor_.close();
      for (auto& connection : connections_) connection->Close();
      connections_.clear();
    });
    thread_.join();
  }
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>/", with the given path, scheme and host.
  std::string Url(std::string_view path_and_query = "/", std::string_view scheme = "http",
                  std::string_view host = "127.0.0.1") const {
    return absl::StrCat(::cascade::internal::Sv(scheme), "://", ::cascade::internal::Sv(host), ":",
                        port_, ::cascade::internal::Sv(path_and_query));
  }

  // Queues replies for the next connections, in order.
  void Script(std::vector<Reply> replies) {
    MutexLock lock(&mu_);
    for (Reply& r : replies) script_.push_back(std::move(r));
  }
  // The reply for connections accepted once the script is used up.
  // Default: Respond(200, "ok").
  void SetDefault(Reply reply) {
    MutexLock lock(&mu_);
    default_ = std::move(reply);
  }

  // Every request read so far, in arrival order.
  std::vector<SeenRequest> requests() const {
    MutexLock lock(&mu_);
    return requests_;
  }
  // Connections accepted so far.
  int accepted() const {
    MutexLock lock(&mu_);
    return accepted_;
  }
  // Waits until at least `n` requests were read or `limit` passed; returns
  // whether they were.
  bool WaitForRequests(size_t n, absl::Duration limit) const {
    MutexLock lock(&mu_);
    return seen_cv_.WaitFor(
        &mu_, absl::ToChronoNanoseconds(limit),
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return requests_.size() >= n; });
  }
  // Waits until at least `n` connections were accepted or `limit` passed;
  // returns whether they were.
  bool WaitForAccepted(int n, absl::Duration limit) const {
    MutexLock lock(&mu_);
    return seen_cv_.WaitFor(&mu_, absl::ToChronoNanoseconds(limit),
                            [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return accepted_ >= n; });
  }

 private:
  using tcp = boost::asio::ip::tcp;
  using Mutex = ::cascade::internal::Mutex;
  using MutexLock = ::cascade::internal::MutexLock;
  using CondVar = ::cascade::internal::CondVar;

  class Connection {
   public:
    virtual ~Connection() = default;
    virtual void Start() = 0;
    virtual void Close() = 0;
  };

  template <typename Stream>
  class Session final : public Connection, public std::enable_shared_from_this<Session<Stream>> {
   public:
    static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

    template <typename... Args>
    Session(LoopbackHttpServer* server, Reply reply, Args&&... args)
        : server_(server), reply_(std::move(reply)), stream_(std::forward<Args>(args)...) {}

    void Start() override {
      if (reply_.kind == Reply::Kind::kSilent) return;
      if constexpr (kTls) {
        stream_.async_handshake(boost::asio::ssl::stream_base::server,
                                [self = this->shared_from_this()](boost::beast::error_code ec) {
                                  if (ec) return self->Close();
                                  const char* sni = SSL_get_servername(
                                      self->stream_.native_handle(), TLSEXT_NAMETYPE_host_name);
                                  if (sni != nullptr) self->sni_ = sni;
                                  self->ReadRequest();
                                });
      } else {
        ReadRequest();
      }
    }
    void Close() override {
      boost::beast::error_code ignored;
      boost::beast::get_lowest_layer(stream_).close(ignored);
    }

   private:
    void ReadRequest() {
      boost::beast::http::async_read(
          stream_, buffer_, request_,
          [self = this->shared_from_this()](boost::beast::error_code ec, size_t) {
            if (ec) return self->Close();
            self->Record();
            if (self->reply_.kind == Reply::Kind::kReadThenHang) return;
            boost::asio::async_write(self->stream_, boost::asio::buffer(self->reply_.raw),
                                     [self](boost::beast::error_code ec, size_t) {
                                       if (ec || self->reply_.close_after) self->Close();
                                     });
          });
    }
    void Record() {
      SeenRequest seen;
      seen.method = std::string(request_.method_string());
      seen.target = std::string(request_.target());
      for (const auto& field : request_) {
        seen.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      seen.body = request_.body();
      seen.sni = sni_;
      {
        MutexLock lock(&server_->mu_);
        server_->requests_.push_back(std::move(seen));
      }
      server_->seen_cv_.SignalAll();
    }

    LoopbackHttpServer* const server_;
    const Reply reply_;
    Stream stream_;
    boost::beast::flat_buffer buffer_;
    boost::beast::http::request<boost::beast::http::string_body> request_;
    std::string sni_;
  };

  Reply NextReply() {
    Reply reply;
    {
      MutexLock lock(&mu_);
      ++accepted_;
      if (script_.empty()) {
        reply = default_;
      } else {
        reply = std::move(script_.front());
        script_.pop_front();
      }
    }
    seen_cv_.SignalAll();
    return reply;
  }

  void Accept() {
    acceptor_.async_accept([this](boost::beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed
      std::shared_ptr<Connection> connection;
      if (tls_ != nullptr) {
        connection = std::make_shared<Session<boost::asio::ssl::stream<tcp::socket>>>(
            this, NextReply(), std::move(socket), *tls_);
      } else {
        connection = std::make_shared<Session<tcp::socket>>(this, NextReply(), std::move(socket));
      }
      connections_.push_back(connection);
      connection->Start();
      Accept();
    });
  }

  boost::asio::ssl::context* const tls_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::vector<std::shared_ptr<Connection>> connections_;  // server thread only
  std::thread thread_;

  mutable Mutex mu_;
  mutable CondVar seen_cv_;  // requests_ or accepted_ grew
  std::deque<Reply> script_ ABSL_GUARDED_BY(mu_);
  Reply default_ ABSL_GUARDED_BY(mu_) = Respond(200, "ok");
  std::vector<SeenRequest> requests_ ABSL_GUARDED_BY(mu_);
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_LOOPBACK_HTTP_SERVER_H_
