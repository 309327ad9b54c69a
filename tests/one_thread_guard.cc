// Copyright 2026 The Cascade Authors.
//
// Linked into the tests that tests/CMakeLists.txt lists as running on one
// thread (CASCADE_ONE_THREAD_TESTS), in the builds without a sanitizer: the
// ThreadSanitizer tree leaves those tests out, as a process of one thread has
// no race to find. A listed test that starts a thread (std::thread, a
// library's worker, anything that reaches pthread_create) stops here with the
// reason, so the list cannot go stale and take a threaded test away from
// ThreadSanitizer unnoticed. This definition takes the place of the C
// library's for the whole process, its shared libraries included.

#include <pthread.h>

#include <cstdio>
#include <cstdlib>

extern "C" int pthread_create(pthread_t* /*thread*/, const pthread_attr_t* /*attr*/,
                              void* (* /*start*/)(void*), void* /*arg*/) {
  std::fputs(
      "one_thread_guard: this test is listed in CASCADE_ONE_THREAD_TESTS "
      "(tests/CMakeLists.txt), which keeps it out of the ThreadSanitizer build, "
      "but it started a thread: take it off the list\n",
      stderr);
  std::abort();
}
