// Copyright 2026 The Cascade Authors.
//
// CASCADE_CHECK(condition): an invariant that holds in every build. Unlike
// assert, it is not compiled out by NDEBUG (RelWithDebInfo and Release define
// it): a broken invariant stops the process with the file, line and
// condition, rather than going on with a corrupt engine.

#ifndef CASCADE_ENGINE_UTIL_CHECK_H_
#define CASCADE_ENGINE_UTIL_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define CASCADE_CHECK(condition)                                                               \
  do {                                                                                         \
    if (__builtin_expect(!(condition), 0)) {                                                   \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

#endif  // CASCADE_ENGINE_UTIL_CHECK_H_
