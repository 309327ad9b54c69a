// Copyright 2026 The Cascade Authors.
//
// server/graph_svg.h: DOT to SVG with Graphviz in process. What it draws,
// that nothing of the input's making becomes markup in the SVG (labels,
// names, ids escaped; links, file attributes and HTML-like labels refused),
// that each call reads its own text and nothing left over from another, and
// that calls from many threads at once each get their own drawing.

#include "server/graph_svg.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade::server {
namespace {

using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(GraphSvgTest, DrawsEveryNodeAndEdgeAsAnSvgElementWithNoPrologue) {
  absl::StatusOr<std::string> svg = DotToSvg(
      "digraph family { a [label=\"first\"]; b [label=\"second\"]; a -> b [style=dashed] }");
  ASSERT_THAT(svg, IsOk());
  EXPECT_THAT(*svg, StartsWith("<svg "));
  EXPECT_THAT(*svg, EndsWith("</svg>\n"));
  EXPECT_THAT(*svg, HasSubstr("xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(*svg, Not(HasSubstr("<?xml")));
  EXPECT_THAT(*svg, Not(HasSubstr("<!DOCTYPE")));
  EXPECT_THAT(*svg, HasSubstr(">first</text>"));
  EXPECT_THAT(*svg, HasSubstr(">second</text>"));
  EXPECT_THAT(*svg, HasSubstr("<title>a&#45;&gt;b</title>"));
  EXPECT_THAT(*svg, HasSubstr("stroke-dasharray"));  // the dashed edge
}

TEST(GraphSvgTest, NodeIdsClassesAndSameDocumentLinksReachTheSvg) {
  absl::StatusOr<std::string> svg = DotToSvg(
      "digraph { j [id=\"job-01ARZ3NDEKTSV4RRFFQ69G5FAV\", class=\"job state-finished\", "
      "URL=\"#/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV\", tooltip=\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"] }");
  ASSERT_THAT(svg, IsOk());
  EXPECT_THAT(*svg, HasSubstr("id=\"job&#45;01ARZ3NDEKTSV4RRFFQ69G5FAV\""));
  EXPECT_THAT(*svg, HasSubstr("class=\"node job state&#45;finished\""));
  EXPECT_THAT(*svg, HasSubstr("xlink:href=\"#/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV\""));
  EXPECT_THAT(*svg, HasSubstr("xlink:title=\"01ARZ3NDEKTSV4RRFFQ69G5FAV\""));
}

// Every text attribute Graphviz escapes, fed markup: none of it is markup in
// the SVG.
TEST(GraphSvgTest, MarkupInLabelsNamesIdsClassesAndTooltipsIsEscaped) {
  const std::string evil = R"(<script>alert(1)</script> \" ]]> --> &amp; ')";
  const std::string dot = absl::StrCat(
      "digraph \"", evil, "\" { \"", evil, "\" [label=\"", evil, "\", xlabel=\"", evil, "\", id=\"",
      evil, "\", class=\"", evil, "\", tooltip=\"", evil, "\", comment=\"", evil, "\"]; \"", evil,
      "\" -> b [label=\"", evil, "\", tooltip=\"", evil, "\"] }");
  absl::StatusOr<std::string> svg = DotToSvg(dot);
  ASSERT_THAT(svg, IsOk());
  EXPECT_THAT(*svg, Not(HasSubstr("<script")));
  // No comment of Graphviz's is ended early (a name or comment holding
  // "-->" would end it and leave the rest outside as markup).
  auto count = [&](std::string_view what) {
    size_t n = 0;
    for (size_t at = svg->find(what); at != std::string::npos; at = svg->find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<!--"), count("-->"));
  EXPECT_THAT(*svg, Not(HasSubstr("]]>")));
  EXPECT_THAT(*svg, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  // Every element Graphviz wrote is one of its own.
  for (size_t at = svg->find('<'); at != std::string::npos; at = svg->find('<', at + 1)) {
    const std::string tag = svg->substr(at, svg->find_first_of(" >", at) - at);
    EXPECT_THAT(
        tag, ::testing::AnyOf("<svg", "</svg", "<g", "</g", "<title", "</title", "<!--", "<polygon",
                              "<ellipse", "<path", "<text", "</text", "<a", "</a"))
        << tag;
  }
}

TEST(GraphSvgTest, LinksMustBeSameDocumentOrSameOriginPaths) {
  for (const char* url : {"javascript:alert(1)", "https://evil.example/", "//evil.example/x",
                          "#/jobs/x\\\"><script>", "#a b", "#/jobs/\\N", "#a'b", "#a<b", "#a&b"}) {
    for (const char* attribute : {"URL", "href"}) {
      const std::string dot = absl::StrCat("digraph { a [", attribute, "=\"", url, "\"] }");
      EXPECT_THAT(DotToSvg(dot), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr(absl::StrCat("'", attribute, "'"))))
          << dot;
    }
  }
  for (const char* attribute : {"edgeURL", "labelURL", "headhref", "tailURL"}) {
    const std::string dot =
        absl::StrCat("digraph { a -> b [", attribute, "=\"javascript:alert(1)\"] }");
    EXPECT_THAT(DotToSvg(dot), StatusIs(absl::StatusCode::kInvalidArgument)) << dot;
  }
  EXPECT_THAT(DotToSvg("digraph { URL=\"javascript:x\"; a }"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("graph attribute 'URL'")));
  EXPECT_THAT(DotToSvg("digraph { node [URL=\"javascript:x\"]; a }"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DotToSvg("digraph { subgraph cluster_x { URL=\"javascript:x\"; a } }"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (const char* url : {"#/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/ui/app.js?x=1", ""}) {
    EXPECT_THAT(DotToSvg(absl::StrCat("digraph { a [URL=\"", url, "\"] }")), IsOk()) << url;
  }
}

// Graphviz 2.43 writes fontname (and links) into the SVG as they are.
TEST(GraphSvgTest, OtherAttributesMayNotHoldQuotesOrMarkup) {
  for (const char* value : {"x\\\"><script>", "a<b", "a&b", "a'b", "a\\\\b"}) {
    const std::string dot = absl::StrCat("digraph { a [fontname=\"", value, "\"] }");
    EXPECT_THAT(DotToSvg(dot), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("node attribute 'fontname'")))
        << dot;
  }
  EXPECT_THAT(DotToSvg("digraph { edge [fontname=\"x\\\"><b>\"]; a -> b }"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DotToSvg("digraph { a [fontname=\"monospace\", fillcolor=\"#58d68d\"] }"), IsOk());
}

TEST(GraphSvgTest, HtmlLikeLabelsAndAttributesThatReadFilesAreRefused) {
  EXPECT_THAT(DotToSvg("digraph { a [label=<<b>x</b>>] }"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("HTML-like")));
  EXPECT_THAT(
      DotToSvg("digraph { a [label=<<table href=\"javascript:x\"><tr><td>x</td></tr></table>>] }"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("HTML-like")));
  for (const char* dot : {"digraph { a [image=\"/etc/hostname\"] }",
                          "digraph { a [shape=custom, shapefile=\"/etc/hostname\"] }",
                          "digraph { imagepath=\"/etc\"; a }", "digraph { fontpath=\"/etc\"; a }",
                          "digraph { stylesheet=\"x.css\"; a }"}) {
    EXPECT_THAT(DotToSvg(dot),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("read a file")))
        << dot;
  }
}

TEST(GraphSvgTest, TextThatIsNotExactlyOneGraphIsRefusedWithGraphvizsReason) {
  EXPECT_THAT(DotToSvg("digraph { a -> "),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("syntax error")));
  EXPECT_THAT(DotToSvg(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no graph")));
  EXPECT_THAT(DotToSvg("  \n"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DotToSvg(std::string("digraph { a }\0digraph { b }", 27)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NUL")));
  EXPECT_THAT(DotToSvg("digraph A { a } digraph B { b }"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than one graph")));
  EXPECT_THAT(DotToSvg("digraph A { a } junk"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text after its graph")));
}

// Graphviz's parser keeps what follows a graph for its next read: a second
// graph must not turn up in the next call's answer instead of that call's own.
TEST(GraphSvgTest, EachCallReadsItsOwnTextWhateverTheCallBeforeLeft) {
  ASSERT_THAT(DotToSvg("digraph A { a } digraph Leftover { leftover }"), Not(IsOk()));
  absl::StatusOr<std::string> svg = DotToSvg("digraph Mine { mine }");
  ASSERT_THAT(svg, IsOk());
  EXPECT_THAT(*svg, AllOf(HasSubstr("<title>mine</title>"), Not(HasSubstr("leftover"))));

  ASSERT_THAT(DotToSvg("digraph { a -> "), Not(IsOk()));
  svg = DotToSvg("digraph { after_an_error }");
  ASSERT_THAT(svg, IsOk());
  EXPECT_THAT(*svg, HasSubstr("<title>after_an_error</title>"));
}

// Graphviz is not thread-safe: DotToSvg serializes the calls. Without that,
// threads parsing at once share the parser's buffers (wrong drawings,
// crashes, which TSan and ASan in CI report).
TEST(GraphSvgTest, CallsFromManyThreadsEachGetTheirOwnDrawing) {
  constexpr int kThreads = 6;
  constexpr int kCalls = 15;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < kCalls; ++i) {
        const std::string name = absl::StrCat("thread", t, "call", i);
        absl::StatusOr<std::string> svg =
            DotToSvg(absl::StrCat("digraph { ", name, " -> other", t, " }"));
        if (!svg.ok()) {
          failures[t] = std::string(svg.status().message());
        } else if (svg->find(absl::StrCat("<title>", name, "</title>")) == std::string::npos) {
          failures[t] = absl::StrCat(name, " not in its own drawing");
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

}  // namespace
}  // namespace cascade::server
