// Copyright 2026 The Cascade Authors.
//
// HttpClient: URL parsing, request header checks, name resolution with a
// deadline, and the connect / TLS handshake / write / read sequence on
// Boost.Beast, every step bounded by the same deadline (a streamed body's
// reads each by the idle limit instead), and all of it by the cancel flag.

#include "net/http_client.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/asio/ssl/error.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/beast/core/error.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/stream_traits.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"

namespace cascade::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;
using TlsStream = ssl::stream<beast::tcp_stream>;
using ::cascade::internal::CondVar;
using ::cascade::internal::Mutex;
using ::cascade::internal::MutexLock;

// Debian's Abseil has its own absl::string_view; this converts at the calls
// into Abseil's string utilities (as wire/strings.h does for the layers above;
// net/ depends on nothing of theirs).
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// How often a wait looks at BodyStream::cancel.
constexpr auto kCancelPoll = std::chrono::milliseconds(100);

// After a timeout, how long the io_context may run to let the cancelled
// operation finish. Cancelled socket operations complete at once; this only
// guards against a bug turning into a hang.
constexpr auto kDrainLimit = std::chrono::milliseconds(50);

// A longer timeout is clamped to this, so that now + timeout cannot overflow.
constexpr absl::Duration kMaxTimeout = absl::Hours(24);

// The scratch buffer a body is read through, a piece at a time.
constexpr size_t kScratchBytes = 8192;

// At most this much is reserved up front for a body of a given Content-Length
// (beyond it the string grows as bytes arrive, so a lying header cannot make
// a large allocation).
constexpr uint64_t kReserveLimit = uint64_t{1} << 20;

// ---- URL --------------------------------------------------------------------

absl::Status BadUrl(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid URL: ", Sv(why)));
}

bool IsHostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// ---- Request ----------------------------------------------------------------

// RFC 9110 token characters (header field names).
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool HasLineBreakOrNul(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// Checks the request's own headers; sets *has_user_agent when one of them is
// a User-Agent (which then replaces the client's).
absl::Status CheckHeaders(const HttpRequest& request, bool* has_user_agent) {
  for (const auto& [name, value] : request.headers) {
    const std::string shown = absl::CHexEscape(Sv(std::string_view(name).substr(0, 64)));
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return absl::InvalidArgumentError(
          absl::StrCat("request header name \"", shown, "\" is not an HTTP token"));
    }
    if (HasLineBreakOrNul(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("request header ", shown, " has CR, LF or NUL in its value"));
    }
    for (std::string_view own : {"host", "content-length", "transfer-encoding"}) {
      if (absl::EqualsIgnoreCase(Sv(name), Sv(own))) {
        return absl::InvalidArgumentError(
            absl::StrCat("request header ", shown, " is written by the HTTP client"));
      }
    }
    if (absl::EqualsIgnoreCase(Sv(name), "user-agent")) *has_user_agent = true;
  }
  return absl::OkStatus();
}

http::verb Verb(Method method) {
  switch (method) {
    case Method::kGet:
      return http::verb::get;
    case Method::kPost:
      return http::verb::post;
    case Method::kPut:
      return http::verb::put;
    case Method::kPatch:
      return http::verb::patch;
    case Method::kDelete:
      return http::verb::delete_;
  }
  return http::verb::get;
}

// The message as the file comment of http_client.h lays it out. `user_agent`
// is empty when none is to be added.
http::request<http::string_body> BuildMessage(const HttpRequest& request, const HttpUrl& url,
                                              std::string_view user_agent) {
  http::request<http::string_body> message;
  message.method(Verb(request.method));
  message.target(url.target);
  message.version(11);
  message.insert(http::field::host, url.host_header);
  if (!user_agent.empty()) message.insert(http::field::user_agent, user_agent);
  const bool method_expects_body = request.method == Method::kPost ||
                                   request.method == Method::kPut ||
                                   request.method == Method::kPatch;
  if (!request.body.empty() || method_expects_body) {
    message.insert(http::field::content_length, std::to_string(request.body.size()));
  }
  // The name as given: Beast keeps the caller's spelling and does not merge.
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  // No prepare_payload(): the framing headers above are the only ones sent.
  message.body() = request.body;
  return message;
}

// ---- Errors -----------------------------------------------------------------

absl::Status TimedOut(absl::Duration timeout) {
  return absl::DeadlineExceededError(
      absl::StrCat("timed out after ", absl::FormatDuration(timeout)));
}

absl::Status Cancelled() { return absl::CancelledError("cancelled"); }

bool IsSet(const std::atomic<bool>* flag) {
  return flag != nullptr && flag->load(std::memory_order_relaxed);
}

// `ec` from a step described by `what` ("connect to host:port"), as the
// status Send returns.
absl::Status StepFailed(std::string_view what, const beast::error_code& ec,
                        absl::Duration timeout) {
  if (ec == beast::error::timeout) return TimedOut(timeout);
  return absl::UnavailableError(absl::StrCat(Sv(what), ": ", ec.message()));
}

bool IsClosedByPeer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == ssl::error::stream_truncated;
}

// ---- Name resolution --------------------------------------------------------

// One getaddrinfo call, shared by the waiting Send and the helper thread
// that makes it; whichever finishes last frees it.
struct PendingResolve {
  Mutex mu;
  CondVar cv;
  bool done ABSL_GUARDED_BY(mu) = false;
  std::vector<tcp::endpoint> endpoints ABSL_GUARDED_BY(mu);
  std::string error ABSL_GUARDED_BY(mu);  // empty on success
};

// Runs on the helper thread: never throws (an exception would terminate).
void RunGetAddrInfo(const std::string& host, uint16_t port, PendingResolve& pending) {
  std::vector<tcp::endpoint> endpoints;
  std::string error;
  try {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
    if (rc != 0) {
      // gai_strerror returns constant strings; strerror may not be
      // thread-safe, std::generic_category() is.
      error = rc == EAI_SYSTEM ? std::generic_category().message(errno) : ::gai_strerror(rc);
    } else {
      for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        tcp::endpoint endpoint;
        if (ai->ai_addrlen > endpoint.capacity()) continue;
        std::memcpy(endpoint.data(), ai->ai_addr, ai->ai_addrlen);
        endpoint.resize(ai->ai_addrlen);
        endpoints.push_back(endpoint);
      }
      ::freeaddrinfo(list);
      if (endpoints.empty()) error = "no IPv4 or IPv6 address";
    }
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown error";
  }
  {
    MutexLock lock(&pending.mu);
    pending.done = true;
    pending.endpoints = std::move(endpoints);
    pending.error = std::move(error);
  }
  pending.cv.SignalAll();
}

// The addresses of url.host, waiting for them no later than `deadline`.
//
// An IP literal needs no lookup. A name is looked up by getaddrinfo, which
// blocks and cannot be cancelled, so it runs on a detached helper thread:
// past the deadline Send returns and the thread finishes on its own (within
// the resolver's own timeouts, resolv.conf's `timeout` x `attempts`) and
// frees the shared state. Asio's async_resolve would not do: it too calls
// getaddrinfo on a thread, and destroying the io_context joins that thread,
// so Send could not return before the lookup ends.
absl::StatusOr<std::vector<tcp::endpoint>> Resolve(const HttpUrl& url, Deadline deadline,
                                                   absl::Duration timeout,
                                                   const std::atomic<bool>* cancel) {
  boost::system::error_code ec;
  const asio::ip::address literal = asio::ip::make_address(url.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(literal, url.port)};

  auto pending = std::make_shared<PendingResolve>();
  try {
    std::thread([pending, host = url.host, port = url.port] {
      RunGetAddrInfo(host, port, *pending);
    }).detach();
  } catch (const std::system_error& e) {
    return absl::UnavailableError(
        absl::StrCat("resolve ", url.host, ": cannot start a resolver thread: ", e.what()));
  }
  PendingResolve& p = *pending;
  MutexLock lock(&p.mu);
  while (!p.done) {
    if (IsSet(cancel)) return Cancelled();
    // With a cancel flag, wake up to look at it now and then.
    const Deadline until =
        cancel == nullptr ? deadline : std::min(deadline, SteadyClock::now() + kCancelPoll);
    if (p.cv.WaitUntil(&p.mu, until) == std::cv_status::timeout && !p.done &&
        SteadyClock::now() >= deadline) {
      return TimedOut(timeout);
    }
  }
  if (!p.error.empty()) {
    return absl::UnavailableError(absl::StrCat("resolve ", url.host, ": ", p.error));
  }
  return std::move(p.endpoints);
}

// ---- The exchange -----------------------------------------------------------

// Runs asynchronous operations one at a time on a private io_context, each
// no later than the deadline, and stops at once when `cancel` is set. Not
// thread-safe: one per Send.
class Runner {
 public:
  Runner(Deadline deadline, const std::atomic<bool>* cancel)
      : io_context_(1), deadline_(deadline), cancel_(cancel) {}

  asio::io_context& io_context() { return io_context_; }
  Deadline deadline() const { return deadline_; }
  // A streamed body's next read gets a deadline of its own (the idle limit).
  void set_deadline(Deadline deadline) { deadline_ = deadline; }
  // Whether a wait ended because the cancel flag was set.
  bool cancelled() const { return cancelled_; }

  // Starts an operation with start(handler) and runs the io_context until the
  // handler has run or the deadline has passed, returning the handler's error.
  // When the deadline passes (or the cancel flag is set) first, closes `tcp`
  // (the pending operation then completes with operation_aborted), lets it
  // finish, and returns beast::error::timeout (asio's operation_aborted when
  // cancelled), as every later call does without starting anything.
  template <typename Start>
  beast::error_code Await(beast::tcp_stream& tcp, Start&& start) {
    if (cancelled_) return asio::error::operation_aborted;
    if (expired_) return beast::error::timeout;
    bool done = false;
    beast::error_code result;
    std::forward<Start>(start)([&done, &result](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    if (cancel_ == nullptr) {
      io_context_.restart();
      io_context_.run_until(deadline_);
    } else {
      // In slices, to look at the flag in between.
      while (!done && !IsSet(cancel_) && SteadyClock::now() < deadline_) {
        io_context_.restart();
        io_context_.run_until(std::min(deadline_, SteadyClock::now() + kCancelPoll));
      }
    }
    if (!done) {
      (IsSet(cancel_) ? cancelled_ : expired_) = true;
      tcp.close();
      io_context_.restart();
      io_context_.run_for(kDrainLimit);
      // If the handler still has not run it never will: the io_context is not
      // run again, and destroying it destroys the handler without calling it.
      if (!done) io_context_.stop();
      return cancelled_ ? beast::error_code(asio::error::operation_aborted)
                        : beast::error_code(beast::error::timeout);
    }
    if (result == beast::error::timeout) expired_ = true;
    return result;
  }

 private:
  asio::io_context io_context_;
  Deadline deadline_;
  const std::atomic<bool>* const cancel_;  // may be null
  bool expired_ = false;
  bool cancelled_ = false;
};

// Asks for SNI and for the certificate to match url.host (a DNS name, or an
// IP address for an IP literal; RFC 6066 forbids literals in SNI).
absl::Status PrepareTls(TlsStream& stream, const HttpUrl& url) {
  SSL* ssl = stream.native_handle();
  boost::system::error_code ec;
  asio::ip::make_address(url.host, ec);
  bool ok;
  if (!ec) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) == 1;
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = SSL_set_tlsext_host_name(ssl, url.host.c_str()) == 1 &&
         SSL_set1_host(ssl, url.host.c_str()) == 1;
  }
  if (!ok) return absl::UnavailableError(absl::StrCat("TLS setup for ", url.host, " failed"));
  return absl::OkStatus();
}

// ec's message, plus why the certificate was refused when it was.
std::string TlsFailure(TlsStream& stream, const beast::error_code& ec) {
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (verify == X509_V_OK) return ec.message();
  return absl::StrCat(ec.message(), " (", X509_verify_cert_error_string(verify), ")");
}

using Parser = http::response_parser<http::buffer_body>;

// Reads the body under BodyMode::kDiscard: until it ends or `max_body_bytes`
// (plus at most one scratch buffer) have gone; the rest is left unread when
// the connection closes. Whatever happens, the status stands.
template <typename Stream>
void DiscardBody(Runner& runner, Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                 size_t max_body_bytes) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  char scratch[kScratchBytes];
  size_t discarded = 0;
  while (!parser.is_done() && discarded < max_body_bytes) {
    parser.get().body().data = scratch;
    parser.get().body().size = sizeof(scratch);
    const beast::error_code ec = runner.Await(
        tcp, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
    discarded += sizeof(scratch) - parser.get().body().size;
    if (ec == http::error::need_buffer) continue;  // scratch is full: reuse it
    if (ec) break;                                 // broken or late: the status stands
  }
}

// Reads the body under BodyMode::kRead into *body, whole: never more than
// max_body_bytes + 1 bytes, the last of which proves the body too large.
template <typename Stream>
absl::Status ReadBody(Runner& runner, Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                      std::string_view peer, absl::Duration timeout, size_t max_body_bytes,
                      std::string* body) {
  auto too_large = [&] {
    return absl::ResourceExhaustedError(absl::StrCat(
        "response body from ", Sv(peer), " is over the limit of ", max_body_bytes, " bytes"));
  };
  // Beast's own optional: boost::optional<std::uint64_t>.
  if (const auto length = parser.content_length(); length) {
    if (*length > max_body_bytes) return too_large();
    body->reserve(static_cast<size_t>(std::min<uint64_t>(*length, kReserveLimit)));
  }
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  char scratch[kScratchBytes];
  while (!parser.is_done()) {
    // body->size() <= max_body_bytes here: room is 1 to sizeof(scratch).
    const size_t left = max_body_bytes - body->size();
    const size_t room = left < sizeof(scratch) ? left + 1 : sizeof(scratch);
    parser.get().body().data = scratch;
    parser.get().body().size = room;
    const beast::error_code ec = runner.Await(
        tcp, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
    body->append(scratch, room - parser.get().body().size);
    if (body->size() > max_body_bytes) return too_large();
    if (ec == http::error::need_buffer) continue;  // scratch is full
    if (runner.cancelled()) return Cancelled();
    if (ec == beast::error::timeout) return TimedOut(timeout);
    if (ec == http::error::partial_message || IsClosedByPeer(ec)) {
      // Also a TLS peer that closes an until-close body without close_notify:
      // the body may have been cut short by anyone on the path.
      return absl::UnavailableError(absl::StrCat("read response body from ", Sv(peer),
                                                 ": connection closed before the body ended"));
    }
    if (ec) return StepFailed(absl::StrCat("read response body from ", Sv(peer)), ec, timeout);
  }
  return absl::OkStatus();
}

// Reads the body for HttpClient::Stream, handing each piece to
// sink.on_bytes as it is unframed; each read waits at most sink.idle_timeout.
template <typename Stream>
absl::Status StreamBody(Runner& runner, Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                        std::string_view peer, const BodyStream& sink) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  char scratch[kScratchBytes];
  while (!parser.is_done()) {
    const Deadline idle_deadline =
        SteadyClock::now() + absl::ToChronoNanoseconds(std::min(sink.idle_timeout, kMaxTimeout));
    runner.set_deadline(idle_deadline);
    tcp.expires_at(idle_deadline);
    parser.get().body().data = scratch;
    parser.get().body().size = sizeof(scratch);
    // read_some, not read: it completes as soon as some bytes were parsed,
    // so a piece is handed on when it arrives, not when scratch is full.
    const beast::error_code ec = runner.Await(tcp, [&](auto handler) {
      http::async_read_some(stream, buffer, parser, std::move(handler));
    });
    const size_t got = sizeof(scratch) - parser.get().body().size;
    if (got > 0 && !sink.on_bytes(std::string_view(scratch, got))) return absl::OkStatus();
    if (ec == http::error::need_buffer) continue;  // scratch is full
    if (runner.cancelled()) return Cancelled();
    if (ec == beast::error::timeout) {
      return absl::DeadlineExceededError(absl::StrCat("no data from ", Sv(peer), " for ",
                                                      absl::FormatDuration(sink.idle_timeout)));
    }
    if (ec == http::error::partial_message || IsClosedByPeer(ec)) {
      return absl::UnavailableError(absl::StrCat("read response body from ", Sv(peer),
                                                 ": connection closed before the body ended"));
    }
    if (ec) {
      return StepFailed(absl::StrCat("read response body from ", Sv(peer)), ec, sink.idle_timeout);
    }
  }
  return absl::OkStatus();
}

// Reads the response's status line and headers (skipping 1xx interim
// responses, which the deadline bounds however many there are), then its
// body as `body_mode` says, or into `sink` when there is one.
template <typename Stream>
absl::StatusOr<HttpResponse> ReadResponse(Runner& runner, Stream& stream, std::string_view peer,
                                          absl::Duration timeout, BodyMode body_mode,
                                          size_t max_body_bytes, const BodyStream* sink) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  std::optional<Parser> parser;
  int status = 0;
  do {
    parser.emplace();
    // No parser limit: Beast would refuse a large Content-Length with the
    // header, before the status is known. The body readers count instead.
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    const beast::error_code ec = runner.Await(tcp, [&](auto handler) {
      http::async_read_header(stream, buffer, *parser, std::move(handler));
    });
    if (runner.cancelled()) return Cancelled();
    if (IsClosedByPeer(ec)) {
      return absl::UnavailableError(
          absl::StrCat("read response from ", Sv(peer), ": connection closed before a response"));
    }
    if (ec) return StepFailed(absl::StrCat("read response from ", Sv(peer)), ec, timeout);
    status = parser->get().result_int();
  } while (status >= 100 && status < 200 && status != 101);

  HttpResponse response;
  response.status = status;
  for (const auto& field : parser->get()) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  if (sink != nullptr) {
    if (sink->on_head && !sink->on_head(response)) return response;
    absl::Status streamed = StreamBody(runner, stream, buffer, *parser, peer, *sink);
    if (!streamed.ok()) return streamed;
    return response;
  }
  if (body_mode == BodyMode::kDiscard) {
    DiscardBody(runner, stream, buffer, *parser, max_body_bytes);
    return response;
  }
  absl::Status read =
      ReadBody(runner, stream, buffer, *parser, peer, timeout, max_body_bytes, &response.body);
  if (!read.ok()) return read;
  return response;
}

// Connects, shakes hands (TLS), writes `message` and reads the response.
template <typename Stream>
absl::StatusOr<HttpResponse> Converse(Runner& runner, Stream& stream, const HttpUrl& url,
                                      const std::vector<tcp::endpoint>& endpoints,
                                      http::request<http::string_body>& message,
                                      absl::Duration timeout, BodyMode body_mode,
                                      size_t max_body_bytes, const BodyStream* sink) {
  constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  // Beast's own timer, on every operation below; runner.Await enforces the
  // same deadline on the io_context as well.
  tcp.expires_at(runner.deadline());
  const std::string where = url.host.find(':') == std::string::npos
                                ? absl::StrCat(url.host, ":", url.port)
                                : absl::StrCat("[", url.host, "]:", url.port);

  beast::error_code ec =
      runner.Await(tcp, [&](auto handler) { tcp.async_connect(endpoints, std::move(handler)); });
  if (runner.cancelled()) return Cancelled();
  if (ec) return StepFailed(absl::StrCat("connect to ", where), ec, timeout);

  if constexpr (kTls) {
    if (absl::Status prepared = PrepareTls(stream, url); !prepared.ok()) return prepared;
    ec = runner.Await(tcp, [&](auto handler) {
      stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (runner.cancelled()) return Cancelled();
    if (ec == beast::error::timeout) return TimedOut(timeout);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("TLS handshake with ", where, ": ", TlsFailure(stream, ec)));
    }
  }

  ec = runner.Await(tcp,
                    [&](auto handler) { http::async_write(stream, message, std::move(handler)); });
  if (runner.cancelled()) return Cancelled();
  if (ec) return StepFailed(absl::StrCat("send to ", where), ec, timeout);

  // No TLS close_notify afterwards: the response is complete (or not wanted)
  // by then, and many servers never answer one. The socket closes with the
  // stream.
  return ReadResponse(runner, stream, where, timeout, body_mode, max_body_bytes, sink);
}

}  // namespace

// ---- ParseHttpUrl -----------------------------------------------------------

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url) {
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return BadUrl("a space, control or non-ASCII character (percent-encode it)");
    }
  }
  HttpUrl out;
  std::string_view rest;
  if (absl::StartsWithIgnoreCase(Sv(url), "http://")) {
    rest = url.substr(7);
  } else if (absl::StartsWithIgnoreCase(Sv(url), "https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else {
    return BadUrl("the scheme must be http:// or https://");
  }
  rest = rest.substr(0, rest.find('#'));  // the fragment is the client's own
  const size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return BadUrl("credentials in the URL (user@host) are not supported");
  }

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl("an IPv6 literal without its ']'");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl("something other than a port after ']'");
      port = after.substr(1);
    }
    boost::system::error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec || host.find('%') != std::string_view::npos) {
      return BadUrl("the bracketed host is not an IPv6 address (zones are not supported)");
    }
    out.host_header = absl::StrCat("[", Sv(host), "]");
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (host.empty()) return BadUrl("no host");
    if (!std::all_of(host.begin(), host.end(), IsHostNameChar)) {
      return BadUrl("the host has characters other than letters, digits, '-', '.' and '_'");
    }
    out.host_header = std::string(host);
  }
  out.host = std::string(host);

  const uint16_t default_port = out.tls ? 443 : 80;
  out.port = default_port;
  // "host:" with nothing after the colon is the default port (RFC 3986 §3.2.3).
  if (!port.empty()) {
    int value = 0;
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(Sv(port), &value) || value < 1 || value > 65535) {
      return BadUrl("the port is not a number from 1 to 65535");
    }
    out.port = static_cast<uint16_t>(value);
  }
  if (out.port != default_port) absl::StrAppend(&out.host_header, ":", out.port);

  out.target =
      target.empty() || target.front() == '?' ? absl::StrCat("/", Sv(target)) : std::string(target);
  return out;
}

// ---- HttpClient -------------------------------------------------------------

struct TlsClientContext {
  TlsClientContext() : context(ssl::context::tls_client) {}
  // Shared by every https:// Send. OpenSSL allows SSL objects to be made
  // from one SSL_CTX on many threads at once as long as nobody changes it,
  // and nothing does after Tls() has built it.
  ssl::context context;
};

HttpClient::HttpClient(std::string user_agent) : user_agent_(std::move(user_agent)) {}
HttpClient::~HttpClient() = default;

absl::StatusOr<TlsClientContext*> HttpClient::Tls() {
  std::call_once(tls_once_, [this] {
    try {
      auto tls = std::make_unique<TlsClientContext>();
      if (SSL_CTX_set_min_proto_version(tls->context.native_handle(), TLS1_2_VERSION) != 1) {
        tls_status_ = absl::UnavailableError("TLS: cannot require TLS 1.2 or later");
        return;
      }
      boost::system::error_code ec;
      tls->context.set_default_verify_paths(ec);
      if (!ec) tls->context.set_verify_mode(ssl::verify_peer, ec);
      if (ec) {
        tls_status_ = absl::UnavailableError(
            absl::StrCat("TLS: cannot load the system's trust store: ", ec.message()));
        return;
      }
      tls_ = std::move(tls);
    } catch (const std::exception& e) {
      tls_status_ =
          absl::UnavailableError(absl::StrCat("TLS: cannot create a client context: ", e.what()));
    }
  });
  if (tls_ == nullptr) return tls_status_;
  return tls_.get();
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request, absl::Duration timeout,
                                              BodyMode body_mode, size_t max_body_bytes) {
  return Exchange(request, timeout, body_mode, max_body_bytes, nullptr);
}

absl::StatusOr<HttpResponse> HttpClient::Stream(const HttpRequest& request, absl::Duration timeout,
                                                const BodyStream& stream) {
  if (!stream.on_bytes) return absl::InvalidArgumentError("BodyStream::on_bytes is not set");
  if (stream.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("BodyStream::idle_timeout must be positive");
  }
  return Exchange(request, timeout, BodyMode::kRead, 0, &stream);
}

absl::StatusOr<HttpResponse> HttpClient::Exchange(const HttpRequest& request,
                                                  absl::Duration timeout, BodyMode body_mode,
                                                  size_t max_body_bytes, const BodyStream* stream) {
  try {
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(request.url);
    if (!url.ok()) return url.status();
    bool has_user_agent = false;
    if (absl::Status checked = CheckHeaders(request, &has_user_agent); !checked.ok()) {
      return checked;
    }
    if (!has_user_agent && HasLineBreakOrNul(user_agent_)) {
      return absl::InvalidArgumentError("the client's User-Agent has CR, LF or NUL in it");
    }
    if (timeout <= absl::ZeroDuration()) return TimedOut(timeout);
    const Deadline deadline =
        SteadyClock::now() + absl::ToChronoNanoseconds(std::min(timeout, kMaxTimeout));

    TlsClientContext* tls = nullptr;
    if (url->tls) {
      absl::StatusOr<TlsClientContext*> context = Tls();
      if (!context.ok()) return context.status();
      tls = *context;
    }
    const std::atomic<bool>* cancel = stream == nullptr ? nullptr : stream->cancel;
    if (IsSet(cancel)) return Cancelled();
    absl::StatusOr<std::vector<tcp::endpoint>> endpoints = Resolve(*url, deadline, timeout, cancel);
    if (!endpoints.ok()) return endpoints.status();
    http::request<http::string_body> message =
        BuildMessage(request, *url, has_user_agent ? std::string_view() : user_agent_);

    // The stream is declared after the runner: it goes first, while the
    // io_context it belongs to still exists.
    Runner runner(deadline, cancel);
    if (tls == nullptr) {
      beast::tcp_stream socket(runner.io_context());
      return Converse(runner, socket, *url, *endpoints, message, timeout, body_mode, max_body_bytes,
                      stream);
    }
    TlsStream socket(runner.io_context(), tls->context);
    return Converse(runner, socket, *url, *endpoints, message, timeout, body_mode, max_body_bytes,
                    stream);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HTTP client: ", e.what()));
  } catch (...) {
    return absl::InternalError("HTTP client: unknown exception");
  }
}

}  // namespace cascade::net
