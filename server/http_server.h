// Copyright 2026 The Cascade Authors.
//
// File: server/http_server.h
// -----------------------------------------------------------------------------
// HttpServer: cascade-server's HTTP/1.1 server. It accepts connections on one
// address, reads requests into a Request (server/http_types.h), calls the
// Handler, and writes the Response back. Boost.Beast and Asio stay inside
// http_server.cc; nothing that includes this header pays for them.
//
// Example:
//
//   using namespace cascade::server;
//   HttpServerOptions options;
//   options.port = 0;  // any free port
//   auto server = HttpServer::Start(options, [](const Request& request) {
//     Response response;
//     response.body = R"({"ok":true})";
//     return response;
//   });
//   if (!server.ok()) return server.status();
//   std::printf("listening on port %d\n", (*server)->port());
//   ...
//   (*server)->Stop();  // or let the destructor do it
//
// What the server does on the wire:
//
// - HTTP/1.1 and HTTP/1.0. Connections are persistent unless the request says
//   `Connection: close` (HTTP/1.1) or does not say `Connection: keep-alive`
//   (HTTP/1.0). Pipelined requests are read and answered one at a time, in
//   order. Responses carry the request's version.
// - `Expect: 100-continue` gets an interim `100 Continue` once the header is
//   read and accepted, so that clients which wait for it (curl does, for large
//   bodies) send the body at once; a declared body over the limit is refused
//   with 413 instead, before it is sent. Other expectations are ignored.
// - The server answers these itself, without calling the handler, and then
//   closes the connection; the body is JSON, {"error": <text>, "errorCode":
//   <code>} (wire/errors.h's ErrorResponse):
//     400 invalid_argument                 the bytes are not an HTTP/1.0 or 1.1
//                                          request ("malformed HTTP request:
//                                          <why>"; an HTTP/2 preface is "bad
//                                          version")
//     413 payload_too_large                the body is over max_body_bytes
//     431 request_header_fields_too_large  the header is over max_header_bytes
//   And when the handler throws, or returns a Response that cannot be sent
//   (see Handler), the client gets 500 {"error": "internal error",
//   "errorCode": "internal"} instead, on a connection that stays open.
// - A connection is closed without an answer when a request does not arrive
//   whole within read_timeout, when it stays idle longer than idle_timeout
//   between requests, when the peer closes or resets it, and when the server
//   already has max_connections open.
// - Each response has the handler's status, its headers, `Content-Type` (when
//   Response::content_type is not empty), `Content-Length`, `Date` and
//   `Server: cascade-server`. A response to HEAD has no body but the
//   Content-Length of the body the handler returned. 204 and 304 responses
//   have neither a body nor a Content-Length.
//
// Thread-safe: port() and Stop() may be called from any thread except from
// within the handler (Stop() would wait for itself).

#ifndef CASCADE_SERVER_HTTP_SERVER_H_
#define CASCADE_SERVER_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/http_types.h"

namespace cascade::server {

struct HttpServerOptions {
  // The address to listen on: an IPv4 or IPv6 literal ("0.0.0.0", "::1"), or
  // "localhost", which is 127.0.0.1. Host names are not looked up.
  // Default: "127.0.0.1".
  std::string host = "127.0.0.1";

  // The TCP port. 0 picks a free ephemeral port; HttpServer::port() says
  // which. Default: 8080.
  uint16_t port = 8080;

  // Threads running the network I/O and the handler. 0 means
  // std::thread::hardware_concurrency(), and at least 2.
  // Default: 0. REQUIRES: >= 0.
  //
  // PERFORMANCE: the handler runs on these threads (but see may_wait), so at
  // most `threads` requests are handled at once, and while all of them are in
  // the handler no other connection makes progress (none is lost: they
  // wait). More threads than cores cost every request: threads that sleep
  // on one io_context are woken for its work, a context switch each.
  int threads = 0;

  // Requests whose handler may wait for long (on a disk sync, say): when
  // set, and waiting_threads > 0, the handler of each request it picks runs
  // on a pool of waiting_threads threads of its own, and the I/O threads go
  // on with other connections meanwhile; the response is written once the
  // handler returns. Called on the I/O threads, before the handler: it must
  // be cheap and thread-safe. Default: unset (the I/O threads run every
  // handler).
  std::function<bool(const Request&)> may_wait;

  // The threads of that pool: at most this many picked requests are handled
  // at once; the others wait their turn. Default: 0 (no pool).
  // REQUIRES: >= 0.
  int waiting_threads = 0;

  // The largest request body accepted, in bytes. A request whose
  // Content-Length is larger gets 413 before its body is read; a chunked body
  // gets 413 as soon as it grows past the limit. Either way the connection is
  // then closed. Default: 10 MiB (contract §9).
  size_t max_body_bytes = size_t{10} << 20;

  // The largest request line plus header fields accepted, in bytes; a larger
  // header gets 431 and the connection is closed.
  // Default: 64 KiB. REQUIRES: > 0 and <= 64 KiB (Beast stores a field's
  // length in 16 bits, and throws past that).
  size_t max_header_bytes = size_t{64} << 10;

  // A request must arrive whole (header and body) within this time: from the
  // connection's acceptance for its first request, and from its first byte
  // for later ones. Otherwise the connection is closed without an answer.
  // Writing one response to the client is bounded by the same time.
  // Default: 30 s. REQUIRES: > 0.
  absl::Duration read_timeout = absl::Seconds(30);

  // A persistent connection that waits longer than this for its next request
  // to begin is closed. Default: 60 s. REQUIRES: > 0.
  absl::Duration idle_timeout = absl::Seconds(60);

  // Connections served at once. A connection accepted beyond this is closed
  // at once, without reading from it or answering.
  // Default: 10000. REQUIRES: > 0.
  size_t max_connections = 10000;

  // How long Stop() lets the requests in progress finish and their responses
  // be written before it closes their connections regardless.
  // Default: 10 s. REQUIRES: >= 0.
  absl::Duration stop_timeout = absl::Seconds(10);
};

// Turns a request into a response. Called on the server's threads, for
// different connections at the same time: it must be thread-safe. It should
// not throw; if it does, the client gets a 500 (see the file comment) and the
// exception's what() is logged to stderr.
//
// The server writes `Content-Length`, `Connection`, `Date` and `Server`
// itself: those names in Response::headers are not sent, nor is
// `Transfer-Encoding`, except that `Connection: close` makes the server close
// the connection after the response. A Response whose status is not in
// [200, 599], or with a header whose name is not an HTTP token, whose value
// has CR, LF or NUL, or either of which is longer than 65533 bytes, is not
// sent: the client gets a 500 instead and the problem is logged to stderr.
using Handler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  // Binds options.host:options.port, listens, and starts the threads; from
  // then on every request on the port goes to `handler`.
  //
  // Errors, each message naming host:port: InvalidArgument when the host is
  // not an IP address or "localhost", when an option breaks its REQUIRES, or
  // when `handler` is empty; Unavailable when the port is in use (or the
  // address is not this machine's, or threads cannot be started);
  // PermissionDenied when binding the port needs privileges.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, Handler handler);

  // Calls Stop().
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port the server listens on (the ephemeral one when options.port was
  // 0). Still the same after Stop().
  uint16_t port() const;

  // Shuts the server down gracefully and returns when it is down:
  // 1. stops accepting: new connections are refused from here on;
  // 2. closes every connection that is not in the middle of a request's
  //    handling, dropping any request that was only partly received;
  // 3. lets the handlers that are running return and their responses be
  //    written (with `Connection: close`), for at most options.stop_timeout;
  //    then closes the connections that are left (a request that has not
  //    reached the waiting pool's threads by then is dropped unhandled);
  // 4. joins the threads, the waiting pool's once its handlers returned.
  // A handler cannot be interrupted: Stop() returns only after every running
  // handler has returned, however long that takes. Idempotent; concurrent
  // calls all return once the server is down.
  // REQUIRES: not called from within the handler.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_HTTP_SERVER_H_
