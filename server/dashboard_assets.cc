// Copyright 2026 The Cascade Authors.
//
// The dashboard's files (the generated table of embed_dashboard.cmake) and
// the answers to GET / and GET /ui/<path>.

#include "server/dashboard_assets.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/responses.h"
#include "wire/strings.h"

namespace cascade::server {
namespace {

constexpr std::pair<std::string_view, std::string_view> kContentTypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

std::string_view ContentTypeOf(std::string_view path) {
  for (const auto& [extension, type] : kContentTypes) {
    if (absl::EndsWithIgnoreCase(wire::Sv(path), wire::Sv(extension))) return type;
  }
  return "application/octet-stream";
}

DashboardAsset AssetOf(const EmbeddedDashboardFile& file) {
  return DashboardAsset{
      .path = file.path,
      .bytes = std::string_view(reinterpret_cast<const char*>(file.data), file.size),
      .content_type = ContentTypeOf(file.path),
      .etag = file.etag,
  };
}

// Whether If-None-Match `header` names `etag`: one of its comma-separated
// tags is "*" or equals `etag` by the weak comparison (RFC 9110 §13.1.2: a
// W/ prefix is ignored).
bool NoneMatchNames(std::string_view header, std::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(wire::Sv(header), ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (tag == "*") return true;
    absl::ConsumePrefix(&tag, "W/");
    if (tag == wire::Sv(etag)) return true;
  }
  return false;
}

}  // namespace

std::optional<DashboardAsset> FindDashboardAsset(std::string_view path) {
  // A handful of files: a linear scan is as fast as any index.
  for (const EmbeddedDashboardFile& file : EmbeddedDashboardFiles()) {
    if (path == file.path) return AssetOf(file);
  }
  return std::nullopt;
}

std::vector<DashboardAsset> DashboardAssets() {
  std::vector<DashboardAsset> out;
  for (const EmbeddedDashboardFile& file : EmbeddedDashboardFiles()) out.push_back(AssetOf(file));
  return out;
}

Response ServeDashboard(const Request& request, std::string_view method, std::string_view path) {
  if (method != "GET") return MethodNotAllowed(method, {"GET", "HEAD"});
  std::string_view name = path;
  if (name == "/") {
    name = "index.html";
  } else if (name.starts_with("/ui/")) {
    name.remove_prefix(4);
  } else {
    return Error(absl::NotFoundError(
        absl::StrCat("no route ", absl::CHexEscape(wire::Sv(path.substr(0, 256))))));
  }
  std::optional<DashboardAsset> asset = FindDashboardAsset(name);
  if (!asset) {
    return Error(absl::NotFoundError(absl::StrCat("no dashboard file ",
                                                  absl::CHexEscape(wire::Sv(name.substr(0, 256))),
                                                  " (the page is at /, its files under /ui/)")));
  }
  Response r;
  r.headers.emplace_back("ETag", std::string(asset->etag));
  // Stored, but checked with the server before each use (the ETag makes
  // that a 304): a new binary's page is seen at its first load.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (asset->content_type.starts_with("text/html")) {
    r.headers.emplace_back("Content-Security-Policy", std::string(kDashboardCsp));
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (const std::string_view none_match = request.Header("if-none-match");
      !none_match.empty() && NoneMatchNames(none_match, asset->etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->bytes);
  return r;
}

}  // namespace cascade::server
