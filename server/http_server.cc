// Copyright 2026 The Cascade Authors.
//
// HttpServer on Boost.Beast: the acceptor, one Connection per socket (its
// read / handle / write cycle, timeouts and closing), and the graceful Stop.
//
// Threads and strands: `threads` threads run one io_context. The acceptor
// and its retry timer live on one strand; each connection's socket on a
// strand of its own, so a connection's state is touched by one thread at a
// time without locks, and its handler call runs on that strand too, unless
// may_wait picks the request: then the handler runs on the waiting pool (an
// asio::thread_pool), the strand idle meanwhile, and its response is posted
// back to the strand. What is shared between strands is ServerState (the
// options, the handler, the pool, and the registry of live connections under
// a lock), and nothing else.
//
// One connection, one request at a time:
//
//   accept ──► wait for a request ──► read header ──► [100 Continue] ──► read body
//                 ▲  (idle_timeout)      (read_timeout from the first byte)    │
//                 │                                                            ▼
//                 └────────── keep-alive ◄── write response ◄── call the handler
//                                                 │  (read_timeout)
//                                                 ▼  close wanted, or an error
//                                             linger: shut down sending, drain
//                                             what the client still sends, close
//
// Lingering matters: closing a socket with unread bytes in it makes the
// kernel send a reset, which can destroy the response (a 413, say) before the
// client has read it.

#include "server/http_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "boost/asio/bind_executor.hpp"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/thread_pool.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/error.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"
#include "wire/errors.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using wire::Sv;

constexpr std::string_view kServerName = "cascade-server";

// After a response that closes the connection, how long the client's further
// bytes are read and thrown away before the socket is closed (see the file
// comment). Clients that read the response and close end it sooner.
constexpr absl::Duration kLingerTimeout = absl::Seconds(2);

// How long the acceptor waits after a failed accept (out of file
// descriptors, say) before it tries again, rather than spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

// Failed accepts are logged at most this often.
constexpr absl::Duration kAcceptErrorLogInterval = absl::Seconds(10);

// Bytes read at a time while waiting for a request or lingering.
constexpr size_t kReadChunk = 16 << 10;

// Beast keeps a header field's length in 16 bits (and throws past that):
// headers no larger than this cannot hold such a field.
constexpr size_t kMaxHeaderLimit = size_t{64} << 10;

// The longest header field name or value Beast can store (it throws past
// that).
constexpr size_t kMaxFieldBytes = 65533;

// A longer timeout is clamped to this, so that now + timeout cannot overflow.
constexpr absl::Duration kMaxTimeout = absl::Hours(24);

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The send buffer of a streamed body's socket, in bytes (SO_SNDBUF).
constexpr int kStreamSendBuffer = 256 << 10;

void Log(std::string_view message) {
  std::fprintf(stderr, "cascade-server: %.*s\n", static_cast<int>(message.size()), message.data());
}

absl::string_view BeastSv(beast::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(std::clamp(d, absl::ZeroDuration(), kMaxTimeout)));
}

// "host:port", or "[host]:port" for an IPv6 literal.
std::string HostPort(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) return absl::StrCat("[", Sv(host), "]:", port);
  return absl::StrCat(Sv(host), ":", port);
}

Response ErrorResponse(int status, std::string_view message, std::string_view code) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = wire::WriteJson(wire::ErrorResponseToJson(message, code));
  return response;
}

Response InternalError() { return ErrorResponse(500, "internal error", "internal"); }

// RFC 9110 token characters (header field names).
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Why `response` cannot be sent, or "" when it can.
std::string Unsendable(const Response& response) {
  if (response.status < 200 || response.status > 599) {
    return absl::StrCat("status ", response.status, " is not in [200, 599]");
  }
  auto bad_value = [](std::string_view value) {
    return value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
  };
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return absl::StrCat("header name \"", absl::CHexEscape(Sv(name.substr(0, 64))),
                          "\" is not an HTTP token");
    }
    if (bad_value(value)) return absl::StrCat("header ", name, " has CR, LF or NUL in its value");
    if (name.size() > kMaxFieldBytes || value.size() > kMaxFieldBytes) {
      return absl::StrCat("header ", name.substr(0, 64), " is longer than ", kMaxFieldBytes,
                          " bytes");
    }
  }
  if (bad_value(response.content_type)) return "content_type has CR, LF or NUL";
  return "";
}

bool IsHttpError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// Whether a Connection value (a comma-separated list of tokens) has "close".
bool HasCloseToken(std::string_view value) {
  for (absl::string_view token : absl::StrSplit(Sv(value), ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(token), "close")) return true;
  }
  return false;
}

// The Date header's value (RFC 9110 §5.6.7, IMF-fixdate): formatted once a
// second on each thread, as it changes once a second (formatting it took
// about 5 % of the CPU time of a GET /jobs/{id}).
const std::string& HttpDate() {
  thread_local int64_t second = std::numeric_limits<int64_t>::min();
  thread_local std::string text;
  const absl::Time now = absl::Now();
  if (const int64_t s = absl::ToUnixSeconds(now); s != second) {
    second = s;
    text = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", now, absl::UTCTimeZone());
  }
  return text;
}

class Connection;

// What the acceptor and every connection share. Thread-safe.
class ServerState {
 public:
  ServerState(const HttpServerOptions& options, Handler handler)
      : options(options), handler(std::move(handler)) {}

  const HttpServerOptions options;
  const Handler handler;
  // The pool that runs the handlers of requests options.may_wait picks;
  // null when there is none. Set by HttpServer::Impl::Start before the first
  // connection, joined by its Stop.
  asio::thread_pool* waiting_pool = nullptr;

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // The handler's response to `request`, or a 500 when the handler throws or
  // its response cannot be sent (Unsendable). On any thread.
  Response Call(const Request& request) const {
    Response response;
    try {
      response = handler(request);
    } catch (const std::exception& e) {
      Log(absl::StrCat("the handler threw on ", request.method, " ", request.target, ": ",
                       e.what()));
      response = InternalError();
    } catch (...) {
      Log(absl::StrCat("the handler threw a non-std::exception on ", request.method, " ",
                       request.target));
      response = InternalError();
    }
    if (std::string why = Unsendable(response); !why.empty()) {
      Log(absl::StrCat("the handler's response to ", request.method, " ", request.target,
                       " cannot be sent: ", why));
      response = InternalError();
    }
    return response;
  }

  // Adds `connection` to the live ones, unless the server is stopping or
  // already has max_connections: then returns false, and the caller closes
  // it. Atomic with BeginStop, so that every connection is either refused
  // here or closed by Stop.
  bool Register(const std::shared_ptr<Connection>& connection) {
    internal::MutexLock lock(&mu_);
    if (stopping_.load(std::memory_order_relaxed)) return false;
    if (connections_.size() >= options.max_connections) return false;
    connections_.emplace(connection.get(), connection);
    return true;
  }

  // Called by a connection's destructor, once its socket and timer are gone.
  // Signals under the lock: once Stop's wait sees no connection left, the
  // server may be destroyed, and this thread (the event feed's, say) must
  // be done with the condition variable by then.
  void Unregister(Connection* connection) {
    internal::MutexLock lock(&mu_);
    connections_.erase(connection);
    if (connections_.empty()) cv_.SignalAll();
  }

  // From now on Register refuses. Returns the live connections.
  std::vector<std::shared_ptr<Connection>> BeginStop() {
    internal::MutexLock lock(&mu_);
    stopping_.store(true, std::memory_order_release);
    return LiveLocked();
  }

  std::vector<std::shared_ptr<Connection>> Live() {
    internal::MutexLock lock(&mu_);
    return LiveLocked();
  }

  // Waits until no connection is live, or `timeout` has passed; returns
  // whether none is.
  bool WaitForNoConnections(absl::Duration timeout) {
    internal::MutexLock lock(&mu_);
    return cv_.WaitFor(&mu_, Chrono(timeout), [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return connections_.empty();
    });
  }

 private:
  // HttpServer::Impl::stop_mu_ names mu_ in its lock order.
  friend class ::cascade::server::HttpServer;

  std::vector<std::shared_ptr<Connection>> LiveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<std::shared_ptr<Connection>> live;
    for (const auto& [raw, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
    return live;
  }

  std::atomic<bool> stopping_{false};  // written under mu_
  internal::Mutex mu_;                 // a leaf
  internal::CondVar cv_;               // notified when connections_ becomes empty
  absl::flat_hash_map<Connection*, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

// One accepted socket. Every member function runs on the socket's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerState* server, tcp::socket socket)
      : registration_{server, this}, server_(server), stream_(std::move(socket)) {}
  ~Connection() { EndStream(); }  // then the members; registration_ last

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  beast::tcp_stream::executor_type executor() { return stream_.get_executor(); }

  void Start() {
    if (closed_) return;  // Stop came first
    boost::system::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
    const tcp::endpoint remote = stream_.socket().remote_endpoint(ignored);
    if (!ignored) peer_ = remote.address().to_string();
    ReadRequest();
  }

  // The server is stopping: closes the connection unless a response is being
  // written (which closes it once written). A streamed body never ends by
  // itself, so it is cut here.
  void OnServerStop() {
    if (phase_ != Phase::kWriting && phase_ != Phase::kHandling) Close();
  }

  // The server gives up waiting: closes the connection whatever it is doing.
  void Close() {
    closed_ = true;
    abandoned_.store(true, std::memory_order_release);
    stream_.close();  // the socket and the expiry timer; never throws
    write_timer_.cancel();
    EndStream();
  }

 private:
  enum class Phase {
    kReading,    // waiting for a request, reading one, or writing 100 Continue
    kHandling,   // its handler is on the waiting pool (may_wait)
    kWriting,    // writing a response
    kStreaming,  // writing a streamed body (Response::stream) until it ends
    kLingering,  // after the last response: draining until the client closes
  };

  // Completion handlers on the strand, keeping the connection alive.
  template <typename F>
  auto Bind(F f) {
    return [self = shared_from_this(), f](auto&&... args) {
      (self.get()->*f)(std::forward<decltype(args)>(args)...);
    };
  }

  // ---- Reading ------------------------------------------------------------

  void ReadRequest() {
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    if (first_request_ || buffer_.size() > 0) {
      // The first request's time runs from the accept; a pipelined one's
      // from now.
      first_request_ = false;
      stream_.expires_after(Chrono(server_->options.read_timeout));
      ReadHeader();
      return;
    }
    // Idle until the next request's first bytes.
    stream_.expires_after(Chrono(server_->options.idle_timeout));
    stream_.async_read_some(buffer_.prepare(kReadChunk), Bind(&Connection::OnFirstBytes));
  }

  void OnFirstBytes(beast::error_code ec, size_t bytes) {
    buffer_.commit(bytes);
    if (ec || closed_) return Close();
    stream_.expires_after(Chrono(server_->options.read_timeout));
    ReadHeader();
  }

  // Parses the header from what is buffered, and reads more only when that
  // is not all of it. A request nearly always arrives whole in one read, and
  // async_read_header, finding it complete in the buffer, would hand it over
  // through a post: one more trip through the io_context per request.
  void ReadHeader() {
    if (buffer_.size() > 0) {
      beast::error_code ec;
      buffer_.consume(parser_->put(buffer_.data(), ec));
      if (ec && ec != http::error::need_more) return OnReadError(ec);
      if (!ec && parser_->is_header_done()) return OnHeader(ec, 0);
    }
    http::async_read_header(stream_, buffer_, *parser_, Bind(&Connection::OnHeader));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    const auto& message = parser_->get();
    // Expect: 100-continue. Answered with 100 Continue rather than refused
    // with 417: curl, for one, sends it with every large body and waits for
    // the 100 (a second, by default) before it sends the body anyway. A body
    // over the limit never gets here: Beast checks the Content-Length against
    // body_limit with the header (OnReadError answers 413), so the client is
    // refused before it sends the body, which is what the mechanism is for.
    // HTTP/1.0 has no 1xx responses.
    if (!parser_->is_done() && message.version() >= 11 &&
        absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(BeastSv(message[http::field::expect])),
                               "100-continue")) {
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        Bind(&Connection::OnContinueWritten));
      return;
    }
    ReadBody();
  }

  void OnContinueWritten(beast::error_code ec, size_t) {
    if (ec || closed_) return Close();
    ReadBody();
  }

  // Likewise: the body from what is buffered first.
  void ReadBody() {
    if (!parser_->is_done() && buffer_.size() > 0) {
      beast::error_code ec;
      parser_->eager(true);  // the whole body, not one chunk of it
      buffer_.consume(parser_->put(buffer_.data(), ec));
      if (ec && ec != http::error::need_more) return OnReadError(ec);
    }
    if (parser_->is_done()) return Handle();
    http::async_read(stream_, buffer_, *parser_, Bind(&Connection::OnBody));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    Handle();
  }

  void OnReadError(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {
      return SendError(
          413,
          absl::StrCat("request body is larger than ", server_->options.max_body_bytes, " bytes"),
          "payload_too_large");
    }
    if (ec == http::error::header_limit) {
      return SendError(431,
                       absl::StrCat("request header is larger than ",
                                    server_->options.max_header_bytes, " bytes"),
                       "request_header_fields_too_large");
    }
    // The client closed (end_of_stream: between requests; partial_message:
    // within one). There is no one to answer.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return Close();
    if (IsHttpError(ec)) {
      return SendError(400, absl::StrCat("malformed HTTP request: ", ec.message()),
                       "invalid_argument");
    }
    Close();  // a timeout, a reset, the server closing it
  }

  // ---- Handling -----------------------------------------------------------

  void Handle() {
    http::request<http::string_body> message = parser_->release();
    parser_.reset();
    Request request;
    request.method = Str(message.method_string());
    request.target = Str(message.target());
    request.headers.reserve(std::distance(message.begin(), message.end()));
    for (const auto& field : message) {
      std::string name = Str(field.name_string());
      absl::AsciiStrToLower(&name);
      request.headers.emplace_back(std::move(name), Str(field.value()));
    }
    request.body = std::move(message.body());
    request.peer = peer_;
    const unsigned version = message.version();
    const bool head = message.method() == http::verb::head;
    const bool keep_alive = message.keep_alive();
    if (server_->waiting_pool != nullptr && server_->options.may_wait(request)) {
      // Nothing is read from the connection until the response is written,
      // so nothing else happens on this strand meanwhile but a Stop.
      phase_ = Phase::kHandling;
      asio::post(*server_->waiting_pool, [self = shared_from_this(), request = std::move(request),
                                          version, head, keep_alive]() mutable {
        // Closed while it queued (the server stopped waiting for it): no one
        // would read the answer, so the request is not handled at all.
        if (self->abandoned_.load(std::memory_order_acquire)) return;
        Response response = self->server_->Call(request);
        asio::post(self->executor(),
                   [self, response = std::move(response), version, head, keep_alive]() mutable {
                     if (self->closed_) return;
                     self->Send(std::move(response), version, head, keep_alive);
                   });
      });
      return;
    }
    Send(server_->Call(request), version, head, keep_alive);
  }

  void SendError(int status, std::string_view text, std::string_view code) {
    Send(ErrorResponse(status, text, code), 11, /*head=*/false, /*keep_alive=*/false);
  }

  // Writes `response` (which Unsendable accepts) in HTTP/`version`.
  void Send(Response response, unsigned version, bool head, bool keep_alive) {
    if (response.stream != nullptr && !head) return StartStream(std::move(response), version);
    keep_alive = keep_alive && !server_->stopping();
    std::optional<http::response<http::string_body>> message;
    try {
      message = Message(response, version, head, &keep_alive);
    } catch (const std::exception& e) {
      // Unsendable should have caught it (Beast throws on fields of 64 KiB).
      Log(absl::StrCat("a response cannot be sent: ", e.what()));
      Response internal = InternalError();
      message = Message(internal, version, head, &keep_alive);
    }
    response_ = std::move(*message);
    close_after_ = !keep_alive;
    phase_ = Phase::kWriting;
    stream_.expires_after(Chrono(server_->options.read_timeout));
    http::async_write(stream_, *response_, Bind(&Connection::OnWritten));
  }

  // The message for `response`, whose body it takes (when nothing throws).
  // Clears *keep_alive if the handler asked for the connection to close.
  static http::response<http::string_body> Message(Response& response, unsigned version, bool head,
                                                   bool* keep_alive) {
    http::response<http::string_body> message;
    SetHeader(response, version, keep_alive, message);
    // RFC 9110 §8.6: no Content-Length in a 204; none needed in a 304.
    const bool bodiless = response.status == 204 || response.status == 304;
    if (!bodiless) message.set(http::field::content_length, std::to_string(response.body.size()));
    if (!bodiless && !head) message.body() = std::move(response.body);
    message.keep_alive(*keep_alive);
    return message;
  }

  // The status line and fields of `response`, less Content-Length.
  static void SetHeader(const Response& response, unsigned version, bool* keep_alive,
                        http::response_header<>& message) {
    message.version(version);
    message.result(static_cast<unsigned>(response.status));
    message.set(http::field::server, kServerName);
    message.set(http::field::date, HttpDate());
    if (!response.content_type.empty()) {
      message.set(http::field::content_type, response.content_type);
    }
    for (const auto& [name, value] : response.headers) {
      if (absl::EqualsIgnoreCase(Sv(name), "connection")) {
        if (HasCloseToken(value)) *keep_alive = false;
        continue;
      }
      if (absl::EqualsIgnoreCase(Sv(name), "content-length") ||
          absl::EqualsIgnoreCase(Sv(name), "transfer-encoding") ||
          absl::EqualsIgnoreCase(Sv(name), "date") || absl::EqualsIgnoreCase(Sv(name), "server")) {
        continue;
      }
      message.insert(name, value);
    }
  }

  void OnWritten(beast::error_code ec, size_t) {
    response_.reset();
    if (ec || closed_) return Close();
    if (close_after_ || server_->stopping()) return Linger();
    ReadRequest();
  }

  // ---- Streaming (Response::stream) ---------------------------------------
  //
  // The header, then the body's bytes as it produces them, pulled by Pump
  // whenever the previous write is done. Meanwhile the socket is read (and
  // what arrives thrown away) only to learn when the client goes away. The
  // connection closes when the body ends, the client closes, a write takes
  // longer than read_timeout, or the server stops.

  void StartStream(Response response, unsigned version) {
    body_ = std::move(response.stream);
    bool keep_alive = false;
    http::response<http::empty_body> message;
    std::ostringstream header;
    try {
      SetHeader(response, version, &keep_alive, message.base());
      message.keep_alive(false);
      header << message.base();
    } catch (const std::exception& e) {
      Log(absl::StrCat("a streamed response cannot be sent: ", e.what()));
      body_.reset();
      Response internal = InternalError();
      return Send(std::move(internal), version, /*head=*/false, /*keep_alive=*/false);
    }
    phase_ = Phase::kStreaming;
    stream_.expires_never();  // a stream has no deadline; each write has one
    // A client that stops reading holds no more of the kernel's memory than
    // this (Linux allows up to 4 MiB by default) until its body cuts it.
    boost::system::error_code ignored;
    stream_.socket().set_option(asio::socket_base::send_buffer_size(kStreamSendBuffer), ignored);
    out_ = std::move(header).str();
    // The body may call these after the connection (or the whole server) is
    // gone: they reach the strand only through a connection still alive.
    std::weak_ptr<Connection> weak = weak_from_this();
    body_->Start(
        [weak] {
          if (std::shared_ptr<Connection> self = weak.lock()) {
            asio::post(self->executor(), [self] { self->Pump(); });
          }
        },
        [weak] {
          if (std::shared_ptr<Connection> self = weak.lock()) {
            asio::post(self->executor(), [self] { self->Close(); });
          }
        });
    // Until the client goes away, whatever it sends is read and dropped.
    DrainStreamClient();
    WriteOut();
  }

  void DrainStreamClient() {
    buffer_.clear();
    stream_.socket().async_read_some(buffer_.prepare(kReadChunk),
                                     Bind(&Connection::OnStreamClientRead));
  }

  void OnStreamClientRead(beast::error_code ec, size_t) {
    if (ec || closed_) return Close();  // the client closed, or we did
    DrainStreamClient();
  }

  // Asks the body for more unless a write is under way.
  void Pump() {
    if (closed_ || writing_ || body_ == nullptr) return;
    out_.clear();
    body_more_ = body_->Next(&out_);
    if (!out_.empty()) return WriteOut();
    if (!body_more_) Close();
    // Else nothing yet: the body wakes us.
  }

  void WriteOut() {
    writing_ = true;
    write_timer_.expires_after(Chrono(server_->options.read_timeout));
    write_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;  // cancelled: the write finished
      if (std::shared_ptr<Connection> self = weak.lock()) self->Close();
    });
    asio::async_write(stream_.socket(), asio::buffer(out_), Bind(&Connection::OnStreamWritten));
  }

  void OnStreamWritten(beast::error_code ec, size_t) {
    writing_ = false;
    write_timer_.cancel();
    if (ec || closed_) return Close();
    if (!body_more_ || server_->stopping()) return Close();
    Pump();
  }

  // Tells the body, once, that the connection is over.
  void EndStream() {
    if (body_ == nullptr) return;
    std::shared_ptr<StreamBody> body = std::move(body_);
    body_.reset();
    body->Closed();
  }

  // ---- Closing ------------------------------------------------------------

  void Linger() {
    phase_ = Phase::kLingering;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(Chrono(kLingerTimeout));
    Drain();
  }

  void Drain() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kReadChunk), Bind(&Connection::OnDrained));
  }

  void OnDrained(beast::error_code ec, size_t) {
    if (ec || closed_) return Close();  // the client's close, or the time is up
    Drain();
  }

  // Unregisters the connection when it is destroyed. Declared first, so
  // destroyed last: Stop waits for every connection to unregister and then
  // destroys the io_context, so the socket and the timer must be gone by then.
  // The last owner may be another thread (a stream's wake function, on the
  // event feed's ticker), finishing the destruction while Stop goes on.
  struct Registration {
    ServerState* server;
    Connection* connection;
    ~Registration() { server->Unregister(connection); }
  };
  Registration registration_;
  ServerState* const server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;  // received, not yet parsed (pipelined requests)
  std::string peer_;           // the client's address (Request::peer)
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;  // being written
  Phase phase_ = Phase::kReading;
  // A streamed body (Phase::kStreaming): the body, the bytes being written,
  // and whether the body said there is more.
  std::shared_ptr<StreamBody> body_;
  std::string out_;
  bool body_more_ = true;
  bool writing_ = false;
  asio::steady_timer write_timer_{stream_.get_executor()};  // one write's deadline
  bool first_request_ = true;
  bool close_after_ = false;  // close once response_ is written
  bool closed_ = false;       // Close() was called
  // closed_, for the waiting pool's threads.
  std::atomic<bool> abandoned_{false};
};

}  // namespace

// ---- HttpServer::Impl ---------------------------------------------------------

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, Handler handler)
      : state_(options, std::move(handler)),
        accept_strand_(asio::make_strand(io_context_)),
        acceptor_(accept_strand_),
        retry_timer_(accept_strand_),
        work_guard_(io_context_.get_executor()) {}

  ~Impl() { Stop(); }

  // Binds, listens, starts accepting and the threads.
  absl::Status Start() {
    const HttpServerOptions& options = state_.options;
    const std::string where = HostPort(options.host, options.port);
    auto invalid = [&where](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("cannot listen on ", where, ": ", Sv(why)));
    };
    if (!state_.handler) return invalid("no handler");
    if (options.threads < 0) return invalid("threads must be >= 0");
    if (options.max_header_bytes == 0 || options.max_header_bytes > kMaxHeaderLimit) {
      return invalid(absl::StrCat("max_header_bytes must be in [1, ", kMaxHeaderLimit, "]"));
    }
    if (options.read_timeout <= absl::ZeroDuration() ||
        options.idle_timeout <= absl::ZeroDuration()) {
      return invalid("read_timeout and idle_timeout must be > 0");
    }
    if (options.stop_timeout < absl::ZeroDuration()) return invalid("stop_timeout must be >= 0");
    if (options.max_connections == 0) return invalid("max_connections must be > 0");
    if (options.waiting_threads < 0) return invalid("waiting_threads must be >= 0");

    boost::system::error_code ec;
    asio::ip::address address;
    if (options.host == "localhost") {
      address = asio::ip::address_v4::loopback();
    } else {
      address = asio::ip::make_address(options.host, ec);
      if (ec) return invalid("the host is not an IP address or \"localhost\"");
    }
    const tcp::endpoint endpoint(address, options.port);
    auto failed = [&where](std::string_view step, const boost::system::error_code& ec) {
      const std::string message =
          absl::StrCat("cannot listen on ", where, ": ", Sv(step), ": ", ec.message());
      if (ec == asio::error::address_in_use) {
        return absl::UnavailableError(absl::StrCat(message, " (is another server on the port?)"));
      }
      if (ec == asio::error::access_denied) return absl::PermissionDeniedError(message);
      return absl::UnavailableError(message);
    };
    if (acceptor_.open(endpoint.protocol(), ec); ec) return failed("open", ec);
    // Lets a restarted server bind while the old one's connections are in
    // TIME_WAIT. (On Linux it does not let two servers listen on one port.)
    if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec); ec) {
      return failed("set SO_REUSEADDR", ec);
    }
    if (acceptor_.bind(endpoint, ec); ec) return failed("bind", ec);
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return failed("listen", ec);
    }
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) return failed("local address", ec);

    if (options.may_wait && options.waiting_threads > 0) {
      try {
        waiting_pool_.emplace(static_cast<size_t>(options.waiting_threads));
      } catch (const std::system_error& e) {
        return absl::UnavailableError(
            absl::StrCat("cannot listen on ", where, ": cannot start threads: ", e.what()));
      }
      state_.waiting_pool = &*waiting_pool_;
    }
    Accept();
    const int threads = options.threads > 0
                            ? options.threads
                            : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    try {
      for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
    } catch (const std::system_error& e) {
      Stop();
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", where, ": cannot start threads: ", e.what()));
    }
    return absl::OkStatus();
  }

  uint16_t port() const { return port_; }

  void Stop() {
    internal::MutexLock lock(&stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    // Refuse new connections first, so that the set below is complete.
    std::vector<std::shared_ptr<Connection>> live = state_.BeginStop();
    asio::post(accept_strand_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
    });
    for (auto& connection : live) {
      asio::post(connection->executor(), [connection] { connection->OnServerStop(); });
    }
    live.clear();  // the posted calls hold them now
    if (!state_.WaitForNoConnections(state_.options.stop_timeout)) {
      for (auto& connection : state_.Live()) {
        asio::post(connection->executor(), [connection] { connection->Close(); });
      }
    }
    // The waiting pool's handlers return (a handler cannot be cut short), and
    // those of closed connections are skipped; what they post back runs on
    // the I/O threads, still running.
    if (waiting_pool_.has_value()) waiting_pool_->join();
    // With the acceptor and every socket closed, and the guard gone, the
    // io_context runs out of work and run() returns, once the handlers posted
    // above have run.
    work_guard_.reset();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  void Run() {
    for (;;) {
      // Nothing here throws by design; should something (an allocation),
      // the thread logs it and goes on (run() may be called again at once).
      try {
        io_context_.run();
        return;
      } catch (const std::exception& e) {
        Log(absl::StrCat("unexpected exception on a server thread: ", e.what()));
      } catch (...) {
        Log("unexpected exception on a server thread");
      }
    }
  }

  // On accept_strand_ (or before the threads start).
  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_context_),
                           asio::bind_executor(accept_strand_, [this](boost::system::error_code ec,
                                                                      tcp::socket socket) {
                             OnAccept(ec, std::move(socket));
                           }));
  }

  void OnAccept(boost::system::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open() || state_.stopping()) return;
    if (ec) {
      if (absl::Now() - last_accept_error_log_ >= kAcceptErrorLogInterval) {
        last_accept_error_log_ = absl::Now();
        Log(absl::StrCat("accept failed (retrying): ", ec.message()));
      }
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && acceptor_.is_open() && !state_.stopping()) Accept();
      });
      return;
    }
    auto connection = std::make_shared<Connection>(&state_, std::move(socket));
    if (state_.Register(connection)) {
      asio::dispatch(connection->executor(), [connection] { connection->Start(); });
    } else {
      // Over max_connections, or stopping: closed unread. The destructor
      // closes the socket.
      connection.reset();
    }
    Accept();
  }

  // Declared before io_context_, whose destructor may destroy connections
  // (which unregister from state_).
  ServerState state_;
  asio::io_context io_context_;
  asio::strand<asio::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;                                   // on accept_strand_
  asio::steady_timer retry_timer_;                           // on accept_strand_
  absl::Time last_accept_error_log_ = absl::InfinitePast();  // on accept_strand_
  uint16_t port_ = 0;                                        // set by Start
  std::vector<std::thread> threads_;                         // started by Start, joined by Stop
  // Keeps run() from returning until Stop has posted all it posts: the
  // io_context may run out of work earlier (every connection closed, the
  // acceptor too) while Stop still holds a connection it is about to post to.
  asio::executor_work_guard<asio::io_context::executor_type> work_guard_;
  // Runs the handlers of requests options.may_wait picks (state_.waiting_pool);
  // started by Start when there are any, joined by Stop.
  std::optional<asio::thread_pool> waiting_pool_;

  // Held through Stop, which takes state_'s lock inside it (BeginStop).
  internal::Mutex stop_mu_ ABSL_ACQUIRED_BEFORE(ServerState::mu_);
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

// ---- HttpServer -------------------------------------------------------------

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              Handler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  if (absl::Status status = impl->Start(); !status.ok()) return status;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace cascade::server
