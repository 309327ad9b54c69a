// Copyright 2026 The Cascade Authors.
//
// File: server/graph_svg.h
// -----------------------------------------------------------------------------
// DotToSvg: Graphviz DOT text laid out by Graphviz's `dot` layout, in process
// (libgvc and cgraph), and rendered as SVG. cascade-server's
// GET /api/v2/jobs/{id}/graph.svg feeds it the DOT of GET /jobs/{id}/graph,
// and the dashboard inlines the answer in its page.
//
// Example:
//
//   absl::StatusOr<std::string> svg = DotToSvg("digraph { a -> b }");
//   if (!svg.ok()) return Error(svg.status());
//   // *svg starts with "<svg" and ends with "</svg>\n".
//
// Safe to inline: Graphviz escapes every text it writes into the SVG (labels,
// names, ids, classes, tooltips) for XML, but not URLs (Graphviz 2.43's SVG
// renderer writes URL and href values as they are, quotes included), it
// reads files that some attributes name (image, shapefile, ...), and an
// HTML-like label (label=<...>) can carry both. So DotToSvg refuses DOT with
// an HTML-like label, a file attribute, or a URL that is not a plain
// same-document or same-origin path ('#...' or '/...', of letters, digits and
// -._~/#?=%+,;:!@$*() only). What it accepts renders to SVG with no markup
// of the input's making and no script; the output carries no XML prolog or
// DOCTYPE, so it inlines into HTML as it is.
//
// Graphviz runs with two plugins only, its `dot` layout and its core
// renderers, and no text layout plugin: text is sized by Graphviz's built-in
// metrics (Times, or Courier for a fontname starting "cour"), not by the
// machine's fonts, so a drawing is the same on every machine.
//
// Thread safety: Graphviz is not thread-safe (its parser, its error
// reporting and its context are process-wide state), so every call takes one
// process-wide mutex: calls from many threads run one at a time.

#ifndef CASCADE_SERVER_GRAPH_SVG_H_
#define CASCADE_SERVER_GRAPH_SVG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cascade::server {

// The SVG of `dot`, one graph in the DOT language, laid out by `dot`.
// InvalidArgument (with Graphviz's message) if `dot` is not exactly one
// graph, or holds what the file comment says is refused; Internal if
// Graphviz cannot lay out or render (its plugins missing: the message names
// the file).
[[nodiscard]] absl::StatusOr<std::string> DotToSvg(std::string_view dot);

}  // namespace cascade::server

#endif  // CASCADE_SERVER_GRAPH_SVG_H_
