// Copyright 2026 The Cascade Authors.
//
// File: server/dashboard_assets.h
// -----------------------------------------------------------------------------
// The dashboard's files, built into cascade-server: every file under
// server/dashboard/ (index.html, its scripts, style sheets, images) becomes,
// at build time, a byte array in a generated source (server/
// embed_dashboard.cmake, run by server/CMakeLists.txt whenever a file
// changes), so the binary serves its own page with nothing to install beside
// it and nothing fetched from elsewhere (contract §16).
//
// FindDashboardAsset looks a file up by its path under server/dashboard/;
// ServeDashboard answers the requests for them: GET or HEAD of `/` is
// index.html, of `/ui/<path>` the file at <path> ("/ui/app.js",
// "/ui/views/jobs.js"), with a strong ETag (304 on If-None-Match),
// `Cache-Control: no-cache` (a browser revalidates every time, so a new
// binary's page is seen at once), `X-Content-Type-Options: nosniff`, and on
// HTML the page's Content-Security-Policy (kDashboardCsp) and
// `Referrer-Policy: no-referrer`. No token: the page asks for one itself.
//
// Example:
//
//   std::optional<DashboardAsset> page = FindDashboardAsset("index.html");
//   if (page) Send(page->content_type, page->bytes);
//
// Thread safety: everything here reads constant data; call from any thread.

#ifndef CASCADE_SERVER_DASHBOARD_ASSETS_H_
#define CASCADE_SERVER_DASHBOARD_ASSETS_H_

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "server/http_types.h"

namespace cascade::server {

struct DashboardAsset {
  // Its path under server/dashboard/: "index.html", "views/jobs.js".
  std::string_view path;
  // Its bytes, as they were in the repository when the binary was built.
  std::string_view bytes;
  // By the path's extension: "text/html; charset=utf-8",
  // "text/javascript; charset=utf-8", "text/css; charset=utf-8",
  // "image/svg+xml", ...; "application/octet-stream" for one not known.
  std::string_view content_type;
  // A strong entity tag: the SHA-256 of `bytes` in hex, quoted ("\"9f86...\"").
  std::string_view etag;
};

// The asset at `path` (relative to server/dashboard/, no leading '/'), or
// nothing if the binary holds no such file.
std::optional<DashboardAsset> FindDashboardAsset(std::string_view path);

// Every asset, sorted by path.
std::vector<DashboardAsset> DashboardAssets();

// The Content-Security-Policy of the dashboard's HTML: its own origin's
// scripts, styles, images (and data: images) and API, nothing inline, never
// framed.
inline constexpr std::string_view kDashboardCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'";

// The answer to `request` for `path` (its path without the query: "/" or
// "/ui/..."), `method` being its method with HEAD as GET: 200 with the asset,
// 304 if If-None-Match names its ETag (or is "*"), 404 (ErrorResponse) for a
// path the binary holds no file for, 405 for a method other than GET or
// HEAD.
Response ServeDashboard(const Request& request, std::string_view method, std::string_view path);

// ---- Internal: the generated table --------------------------------------------

// One file of the generated table (embed_dashboard.cmake writes it). Not in
// a namespace `internal`: inside cascade::server, that would hide
// cascade::internal (base/mutex.h) from every file that includes this one.
struct EmbeddedDashboardFile {
  const char* path;
  const unsigned char* data;
  size_t size;
  const char* etag;  // the SHA-256 of the bytes in hex, in double quotes
};

// The generated table, sorted by path.
std::span<const EmbeddedDashboardFile> EmbeddedDashboardFiles();

}  // namespace cascade::server

#endif  // CASCADE_SERVER_DASHBOARD_ASSETS_H_
