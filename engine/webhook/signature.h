// Copyright 2026 The Cascade Authors.
//
// HMAC-SHA256 for webhook signatures. The public entry point is
// cascade::WebhookSignature (cascade/webhook.h); this header gives the engine
// (and, later, the server) the raw pieces it is built from.
//
// Thread-safe: every function is pure.

#ifndef CASCADE_ENGINE_WEBHOOK_SIGNATURE_H_
#define CASCADE_ENGINE_WEBHOOK_SIGNATURE_H_

#include <string>
#include <string_view>

namespace cascade::internal {

// What Cascade-Signature values start with.
inline constexpr std::string_view kSignaturePrefix = "sha256=";

// The lower-case hex (64 characters) HMAC-SHA256 of `message` under `key`.
// Any key length works, the empty key included (RFC 2104 pads or hashes it).
std::string HmacSha256Hex(std::string_view key, std::string_view message);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_WEBHOOK_SIGNATURE_H_
