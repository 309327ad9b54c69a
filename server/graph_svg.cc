// Copyright 2026 The Cascade Authors.
//
// DOT to SVG with Graphviz (libgvc, cgraph), one call at a time.

#include "server/graph_svg.h"

#include <dlfcn.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>
#include <graphviz/gvplugin.h>

#include <array>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/mutex.h"
#include "wire/strings.h"

namespace cascade::server {
namespace {

using wire::Sv;

// Graphviz's process-wide state, and the lock every use of Graphviz takes:
// its DOT parser (a flex/bison pair with global buffers), its error
// reporting and its plugin context are shared by the whole process.
struct Graphviz {
  internal::Mutex mu;
  // Made at the first call and kept: loading the plugins costs more than a
  // layout. Never freed (the process ends with it).
  GVC_t* context ABSL_GUARDED_BY(mu) = nullptr;
  // What Graphviz reported since the current call began (CollectMessage).
  std::string messages ABSL_GUARDED_BY(mu);
};

Graphviz& Gv() {
  static Graphviz* const gv = new Graphviz;
  return *gv;
}

// Graphviz's error function (agseterrf): keeps its messages for the caller's
// Status instead of letting them go to stderr. Graphviz calls it only from
// inside a call DotToSvg makes, under the lock.
int CollectMessage(char* message) {
  Graphviz& gv = Gv();
  gv.mu.AssertHeld();
  if (gv.messages.size() < 4096) absl::StrAppend(&gv.messages, message);
  return 0;
}

// The plugins DotToSvg uses, from Graphviz's plugin folder (server/
// CMakeLists.txt gives the folder and the plugin ABI version, from
// pkg-config's libgvc): the `dot` layout, and the core renderers (SVG).
// Loaded by name instead of by gvContext()'s configuration, which also loads
// a text layout plugin (pango, on Debian): through it fontconfig, which
// reads the machine's fonts (so the drawing would depend on them) and leaks
// what it caches (LeakSanitizer fails every test that draws). Without one,
// Graphviz sizes text by its own built-in font metrics.
constexpr std::pair<const char*, const char*> kPlugins[] = {
    {"libgvplugin_dot_layout.so." CASCADE_GRAPHVIZ_PLUGIN_VERSION,
     "gvplugin_dot_layout_LTX_library"},
    {"libgvplugin_core.so." CASCADE_GRAPHVIZ_PLUGIN_VERSION, "gvplugin_core_LTX_library"},
};

// A Graphviz context with kPlugins' plugins only.
absl::StatusOr<GVC_t*> NewContext() {
  GVC_t* context = gvContextPlugins(/*builtins=*/nullptr, /*demand_loading=*/0);
  if (context == nullptr) return absl::InternalError("Graphviz's gvContextPlugins() failed");
  for (const auto& [file, symbol] : kPlugins) {
    const std::string path = absl::StrCat(CASCADE_GRAPHVIZ_PLUGIN_DIR, "/", file);
    // Kept loaded for the process's life, as the context that uses it.
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    void* found = library == nullptr ? nullptr : dlsym(library, symbol);
    if (found == nullptr) {
      const char* why = dlerror();
      gvFreeContext(context);
      return absl::InternalError(absl::StrCat("cannot load Graphviz's plugin ", symbol, " from ",
                                              path, ": ", why == nullptr ? "no reason" : why,
                                              " (is libgraphviz-dev installed?)"));
    }
    gvAddLibrary(context, static_cast<gvplugin_library_t*>(found));
  }
  return context;
}

// Graphviz's messages as one line, for a Status.
std::string Said(std::string_view messages) {
  std::string out(absl::StripAsciiWhitespace(Sv(messages)));
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out.empty() ? "Graphviz gave no reason" : out;
}

struct GraphCloser {
  void operator()(Agraph_t* g) const { agclose(g); }
};
using GraphPtr = std::unique_ptr<Agraph_t, GraphCloser>;

// Attributes that make Graphviz read a file (an image, a shape, a font, a
// style sheet it links): never from a web request's DOT.
constexpr std::array<std::string_view, 5> kFileAttributes = {"image", "imagepath", "shapefile",
                                                             "fontpath", "stylesheet"};

// Attributes whose values Graphviz escapes for XML wherever it writes them
// into the SVG (measured on Graphviz 2.43: text, names, ids, classes,
// tooltips). Any text may go there, except an HTML-like label.
constexpr std::array<std::string_view, 12> kTextAttributes = {
    "label",   "xlabel",      "headlabel",   "taillabel",   "tooltip", "labeltooltip",
    "comment", "edgetooltip", "headtooltip", "tailtooltip", "id",      "class"};

bool IsUrlAttribute(std::string_view name) {
  const absl::string_view n(name.data(), name.size());
  return absl::EndsWithIgnoreCase(n, "url") || absl::EndsWithIgnoreCase(n, "href");
}

// A value Graphviz may write into the SVG unescaped (2.43 does so with
// fontname and URLs): nothing that ends an XML attribute, starts markup or
// an entity, or is a DOT escape (\N expands to the node's name).
bool IsPlain(std::string_view value) {
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '&' ||
        c == '\\') {
      return false;
    }
  }
  return true;
}

// A link the page can follow without leaving it or running anything: a
// fragment ('#/jobs/ID') or a path on the same origin ('/ui/x'), never a
// scheme ('javascript:') or another host ('//evil').
bool IsSafeUrl(std::string_view url) {
  if (url.empty()) return true;  // no link
  if (url[0] != '#' && url[0] != '/') return false;
  if (url.starts_with("//")) return false;
  constexpr std::string_view kPunctuation = "-._~/#?=%+,;:!@$*()";
  for (unsigned char c : url) {
    if (!absl::ascii_isalnum(c) && kPunctuation.find(static_cast<char>(c)) == kPunctuation.npos) {
      return false;
    }
  }
  return true;
}

// Whether the value `value` of attribute `name` may go into the SVG.
absl::Status CheckValue(std::string_view kind, std::string_view name, char* value) {
  if (value == nullptr || *value == '\0') return absl::OkStatus();
  if (aghtmlstr(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", Sv(kind), " attribute '", Sv(name),
        "' is an HTML-like label (<...>), which is refused: it can carry links and images"));
  }
  const std::string_view text(value);
  if (IsUrlAttribute(name)) {
    if (!IsSafeUrl(text)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ", Sv(kind), " attribute '", Sv(name),
          "' must be a '#...' or '/...' link of letters, digits and -._~/#?=%+,;:!@$*() "
          "only (Graphviz writes links into the SVG unescaped)"));
    }
    return absl::OkStatus();
  }
  for (std::string_view text_attribute : kTextAttributes) {
    if (name == text_attribute) return absl::OkStatus();
  }
  if (!IsPlain(text)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", Sv(kind), " attribute '", Sv(name),
        "' holds a quote, '<', '>', '&', '\\' or a control character, which only labels, "
        "tooltips, ids and classes may (Graphviz writes other values into the SVG unescaped)"));
  }
  return absl::OkStatus();
}

// Every graph and subgraph of `g`, depth first.
template <typename Visit>
absl::Status ForEachGraph(Agraph_t* g, const Visit& visit) {
  if (absl::Status s = visit(g); !s.ok()) return s;
  for (Agraph_t* sub = agfstsubg(g); sub != nullptr; sub = agnxtsubg(sub)) {
    if (absl::Status s = ForEachGraph(sub, visit); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// What the file comment of graph_svg.h says is refused, anywhere in `root`:
// every attribute declared for graphs, nodes and edges, its default and its
// value on every object.
absl::Status CheckAttributes(Agraph_t* root) {
  constexpr std::pair<int, std::string_view> kKinds[] = {
      {AGRAPH, "graph"}, {AGNODE, "node"}, {AGEDGE, "edge"}};
  for (const auto& [kind, kind_name] : kKinds) {
    for (Agsym_t* sym = agnxtattr(root, kind, nullptr); sym != nullptr;
         sym = agnxtattr(root, kind, sym)) {
      const std::string_view name(sym->name);
      for (std::string_view file_attribute : kFileAttributes) {
        if (absl::EqualsIgnoreCase(
                absl::string_view(name.data(), name.size()),
                absl::string_view(file_attribute.data(), file_attribute.size()))) {
          return absl::InvalidArgumentError(
              absl::StrCat("the ", Sv(kind_name), " attribute '", Sv(name),
                           "' is refused: it would make Graphviz read a file"));
        }
      }
      if (absl::Status s = CheckValue(kind_name, name, sym->defval); !s.ok()) return s;
      absl::Status status;
      if (kind == AGRAPH) {
        status = ForEachGraph(
            root, [&](Agraph_t* g) { return CheckValue(kind_name, name, agxget(g, sym)); });
      } else {
        for (Agnode_t* n = agfstnode(root); n != nullptr && status.ok(); n = agnxtnode(root, n)) {
          if (kind == AGNODE) {
            status = CheckValue(kind_name, name, agxget(n, sym));
            continue;
          }
          for (Agedge_t* e = agfstout(root, n); e != nullptr && status.ok();
               e = agnxtout(root, e)) {
            status = CheckValue(kind_name, name, agxget(e, sym));
          }
        }
      }
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

// Reads the one graph of `dot` (NUL-terminated). Graphviz's parser keeps
// what follows a graph in its buffer and hands it to the NEXT read, whatever
// text that read is given; so the rest is drained here, and text after the
// graph refuses the input.
absl::StatusOr<GraphPtr> ReadGraph(Graphviz& gv, const std::string& dot)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(gv.mu) {
  gv.messages.clear();
  GraphPtr graph(agmemread(dot.c_str()));
  const size_t said_by_read = gv.messages.size();
  int more = 0;
  while (Agraph_t* extra = agmemread("")) {
    agclose(extra);
    ++more;
  }
  if (graph == nullptr) {
    return absl::InvalidArgumentError(
        said_by_read == 0 ? std::string("the DOT text holds no graph")
                          : absl::StrCat("the DOT text is not a graph: ", Said(gv.messages)));
  }
  if (more > 0 || gv.messages.size() > said_by_read) {
    return absl::InvalidArgumentError(
        absl::StrCat("the DOT text holds more than one graph, or text after its graph",
                     more > 0 ? "" : ": ", more > 0 ? "" : Said(gv.messages.substr(said_by_read))));
  }
  return graph;
}

}  // namespace

absl::StatusOr<std::string> DotToSvg(std::string_view dot) {
  if (dot.find('\0') != std::string_view::npos) {
    // Graphviz reads C strings: it would stop at the NUL without a word.
    return absl::InvalidArgumentError("the DOT text holds a NUL byte");
  }
  const std::string text(dot);
  Graphviz& gv = Gv();
  internal::MutexLock lock(&gv.mu);
  if (gv.context == nullptr) {
    agseterrf(&CollectMessage);
    absl::StatusOr<GVC_t*> context = NewContext();
    if (!context.ok()) return context.status();
    gv.context = *context;
  }
  absl::StatusOr<GraphPtr> graph = ReadGraph(gv, text);
  if (!graph.ok()) return graph.status();
  if (absl::Status checked = CheckAttributes(graph->get()); !checked.ok()) return checked;

  gv.messages.clear();
  if (gvLayout(gv.context, graph->get(), "dot") != 0) {
    return absl::InternalError(
        absl::StrCat("Graphviz could not lay the graph out with 'dot': ", Said(gv.messages)));
  }
  char* data = nullptr;
  unsigned int length = 0;
  const int rendered = gvRenderData(gv.context, graph->get(), "svg", &data, &length);
  std::string svg = rendered == 0 && data != nullptr ? std::string(data, length) : std::string();
  gvFreeRenderData(data);
  gvFreeLayout(gv.context, graph->get());
  if (rendered != 0) {
    return absl::InternalError(absl::StrCat("Graphviz could not render SVG: ", Said(gv.messages)));
  }
  // From the <svg> element on: the XML declaration, the DOCTYPE and
  // Graphviz's banner comments have no place inside an HTML page, and an SVG
  // document needs none of them (the element carries its namespaces).
  const size_t start = svg.find("<svg");
  if (start == std::string::npos) {
    return absl::InternalError("Graphviz's SVG output has no <svg> element");
  }
  svg.erase(0, start);
  return svg;
}

}  // namespace cascade::server
