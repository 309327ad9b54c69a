// Copyright 2026 The Cascade Authors.
//
// Webhook signatures: HMAC-SHA256 through OpenSSL's one-shot HMAC().

#include "engine/webhook/signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "cascade/webhook.h"
#include "engine/util/strings.h"

namespace cascade {
namespace internal {

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  // A default std::string_view has a null data(); OpenSSL can read a null key
  // as "no key set" rather than an empty one, so point empty inputs at a byte.
  static constexpr unsigned char kNothing = 0;
  const void* key_bytes = key.empty() ? static_cast<const void*>(&kNothing) : key.data();
  const auto* data_bytes =
      message.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(message.data());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, message.size(), mac,
           &mac_len) == nullptr ||
      mac_len != 32) {
    // Only a broken OpenSSL installation gets here (no SHA-256, no memory);
    // an unsigned or wrongly signed request would be worse than stopping.
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * mac_len, '\0');
  for (unsigned int i = 0; i < mac_len; ++i) {
    hex[2 * i] = kHex[mac[i] >> 4];
    hex[2 * i + 1] = kHex[mac[i] & 0xf];
  }
  return hex;
}

}  // namespace internal

std::string WebhookSignature(std::string_view secret, std::string_view body) {
  return absl::StrCat(internal::Sv(internal::kSignaturePrefix),
                      internal::HmacSha256Hex(secret, body));
}

}  // namespace cascade
