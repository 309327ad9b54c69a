// Copyright 2026 The Cascade Authors.
//
// The dependency DAG (contract §3) as one Boost.Graph adjacency_list. An edge
// P -> D means "D needs P to finish": a nested child points at its parent, a
// `dependsOn` job at the job that names it. Only jobs with at least one edge
// have a vertex; the vertex's bundle names the job's slot in the job table
// and keeps the two counters the cascade rules read in O(1). An edge's bundle
// is its key in the journal (engine/journal/rows.h), so that purging a family can
// delete its rows.
//
// NOTE: not thread-safe; the engine's lock guards it.

#ifndef CASCADE_ENGINE_GRAPH_DEPENDENCY_GRAPH_H_
#define CASCADE_ENGINE_GRAPH_DEPENDENCY_GRAPH_H_

#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>

#include "absl/functional/function_ref.h"

namespace cascade::internal {

// The bundled vertex property.
struct JobNode {
  uint32_t slot = 0;
  // Prerequisites not finished yet (a failed one counts as resolved for a job
  // whose policy is `ignore`). A pending job becomes queued at zero.
  uint32_t unresolved_prerequisites = 0;
  // Dependents neither cancelled nor failed. Rule U fires at zero.
  uint32_t live_dependents = 0;
};

// The bundled edge property: the edge's journal key (its number in the order
// edges were added).
struct JobEdge {
  uint64_t key = 0;
};

using Graph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, JobNode, JobEdge>;
using Vertex = uint32_t;
inline constexpr Vertex kNoVertex = std::numeric_limits<Vertex>::max();

class DependencyGraph {
 public:
  Vertex AddVertex(uint32_t slot) {
    return static_cast<Vertex>(boost::add_vertex(JobNode{slot, 0, 0}, graph_));
  }
  // Adds P -> D. Edges only ever point at a job created in the same call, so
  // the graph stays acyclic by construction.
  void AddEdge(Vertex prerequisite, Vertex dependent, uint64_t key) {
    boost::add_edge(prerequisite, dependent, JobEdge{key}, graph_);
  }
  // Removes every edge into and out of v; v stays, with no edges (vertex
  // numbers are kept by the job table, so vertices are never removed).
  void ClearVertex(Vertex v) { boost::clear_vertex(v, graph_); }

  JobNode& node(Vertex v) { return graph_[v]; }
  const JobNode& node(Vertex v) const { return graph_[v]; }

  // Calls f(slot) for each dependent of v, in the order the edges were added.
  template <typename F>
  void ForEachDependent(Vertex v, F&& f) const {
    for (auto [it, end] = boost::adjacent_vertices(v, graph_); it != end; ++it) {
      f(graph_[*it].slot);
    }
  }
  // Calls f(slot) for each prerequisite of v, in the order the edges were added.
  template <typename F>
  void ForEachPrerequisite(Vertex v, F&& f) const {
    for (auto [it, end] = boost::in_edges(v, graph_); it != end; ++it) {
      f(graph_[boost::source(*it, graph_)].slot);
    }
  }
  // How many prerequisites v has.
  size_t PrerequisiteCount(Vertex v) const { return boost::in_degree(v, graph_); }
  // Calls f(key) for each edge into or out of v.
  template <typename F>
  void ForEachEdgeKey(Vertex v, F&& f) const {
    for (auto [it, end] = boost::in_edges(v, graph_); it != end; ++it) f(graph_[*it].key);
    for (auto [it, end] = boost::out_edges(v, graph_); it != end; ++it) f(graph_[*it].key);
  }

 private:
  Graph graph_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_GRAPH_DEPENDENCY_GRAPH_H_
