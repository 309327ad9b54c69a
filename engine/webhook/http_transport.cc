// Copyright 2026 The Cascade Authors.
//
// HttpTransport: a WebhookRequest as a net::HttpRequest, sent by
// net::HttpClient with the body discarded. WebhookTransport::CreateHttp lives
// here.

#include "engine/webhook/http_transport.h"

#include <memory>
#include <string>

namespace cascade {
namespace internal {
namespace {

net::Method ToNetMethod(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return net::Method::kGet;
    case HttpMethod::kPost:
      return net::Method::kPost;
    case HttpMethod::kPut:
      return net::Method::kPut;
    case HttpMethod::kDelete:
      return net::Method::kDelete;
  }
  return net::Method::kPost;
}

}  // namespace

HttpTransport::HttpTransport() : client_(std::string(kWebhookUserAgent)) {}
HttpTransport::~HttpTransport() = default;

absl::StatusOr<int> HttpTransport::Send(const WebhookRequest& request, absl::Duration timeout) {
  net::HttpRequest message;
  message.method = ToNetMethod(request.method);
  message.url = request.url;
  message.headers = request.headers;
  message.body = request.body;
  absl::StatusOr<net::HttpResponse> response =
      client_.Send(message, timeout, net::BodyMode::kDiscard, kMaxResponseBodyBytes);
  if (!response.ok()) return response.status();
  return response->status;
}

}  // namespace internal

std::unique_ptr<WebhookTransport> WebhookTransport::CreateHttp() {
  return std::make_unique<internal::HttpTransport>();
}

}  // namespace cascade
