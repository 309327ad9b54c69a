// Copyright 2026 The Cascade Authors.
//
// Memory for the engine's large, long-lived arrays (the job table, the id
// index) in 2 MiB-aligned regions that the kernel may back with transparent
// huge pages (madvise(MADV_HUGEPAGE); it honours the advice when
// /sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise", and
// ignores it otherwise).
//
// Why: with 4 KiB pages a million jobs span ~40,000 pages. Measured on the
// 2-vCPU VM the benchmarks run on (docs/benchmarks.md): the first touch of a
// fresh 4 KiB page costs ~12 µs, so SubmitBatch(1000), whose records fill
// ~35 new pages, spent about half its time in page faults; in a 2 MiB-aligned
// region with the advice, the first touch costs ~0.35 µs per 4 KiB. A random
// read over 144 MiB drops from ~200 to ~165 ns, the page walk of a TLB miss
// being shorter.
//
// Only touched pages cost memory, so a small engine reserves address space,
// not RAM (at most one 2 MiB page per region it has touched).

#ifndef CASCADE_ENGINE_UTIL_HUGE_PAGES_H_
#define CASCADE_ENGINE_UTIL_HUGE_PAGES_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace cascade::internal {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

inline constexpr size_t RoundUpToHugePage(size_t bytes) {
  return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
}

// Returns `RoundUpToHugePage(bytes)` bytes aligned to 2 MiB, advised for
// huge pages; not initialized. Throws std::bad_alloc when memory runs out, as
// operator new would.
//
// From the C allocator rather than a mmap of our own: LeakSanitizer scans heap
// blocks for pointers but not anonymous mappings, and the job table's records
// hold pointers to heap blocks (their JobExtras). glibc serves a request this
// large with a mapping of its own anyway.
inline void* AllocateHugeRegion(size_t bytes) {
  const size_t size = RoundUpToHugePage(bytes);
  void* region = std::aligned_alloc(kHugePageBytes, size);
  if (region == nullptr) throw std::bad_alloc();
  madvise(region, size, MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
  return region;
}

// Releases a region from AllocateHugeRegion.
inline void FreeHugeRegion(void* region, size_t /*bytes*/) { std::free(region); }

// A standard allocator that serves requests of at least `kHugePageBytes` from
// huge-page regions and smaller ones from operator new; for containers that
// grow into one large array (absl::flat_hash_map's backing store).
template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT: rebinding

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) return static_cast<T*>(AllocateHugeRegion(bytes));
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) {
      FreeHugeRegion(p, bytes);
    } else {
      std::allocator<T>().deallocate(p, n);
    }
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_HUGE_PAGES_H_
