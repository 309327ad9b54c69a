// Copyright 2026 The Cascade Authors.
//
// What the public API says about DurabilityOptions::data_dir: whether it is a
// PostgreSQL URL, and how to show it without its password.

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "cascade/options.h"

namespace cascade {

bool IsPostgresUrl(std::string_view data_dir) {
  return data_dir.starts_with("postgresql://") || data_dir.starts_with("postgres://");
}

std::string RedactPostgresUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t start = scheme + 3;
  const size_t end = std::min(url.find_first_of("/?", start), url.size());
  std::string out(url);
  // The query's password=... (libpq takes parameters there too).
  if (const size_t query = url.find('?', start); query != std::string_view::npos) {
    size_t at = query + 1;
    while (at < out.size()) {
      const size_t amp = std::min(out.find('&', at), out.size());
      if (std::string_view(out).substr(at, amp - at).starts_with("password=")) {
        out.replace(at, amp - at, "password=****");
        at += std::string_view("password=****").size() + 1;
      } else {
        at = amp + 1;
      }
    }
  }
  // The userinfo's password: user:password@host.
  const std::string_view authority = url.substr(start, end - start);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return out;
  const size_t colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos) return out;
  return absl::StrCat(out.substr(0, start + colon + 1), "****", out.substr(start + at));
}

}  // namespace cascade
