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
// Regions are reserved with mmap and only touched pages cost memory, so a
// small engine reserves address space, not RAM (at most one 2 MiB page per
// region it has touched).

#ifndef CASCADE_ENGINE_UTIL_HUGE_PAGES_H_
#define CASCADE_ENGINE_UTIL_HUGE_PAGES_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

// LeakSanitizer runs with AddressSanitizer (GCC defines the first macro,
// clang answers the second).
#if defined(__SANITIZE_ADDRESS__)
#define CASCADE_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CASCADE_HAS_LSAN 1
#endif
#endif
#ifndef CASCADE_HAS_LSAN
#define CASCADE_HAS_LSAN 0
#endif
#if CASCADE_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace cascade::internal {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

inline constexpr size_t RoundUpToHugePage(size_t bytes) {
  return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
}

// Returns `RoundUpToHugePage(bytes)` bytes of zeroed memory aligned to 2 MiB,
// advised for huge pages. Throws std::bad_alloc when the kernel refuses, as
// operator new would.
//
// A mapping of our own rather than the C allocator's: a region carved from a
// heap whose pages were already touched (the SQLite peer's, in the benchmark
// process) stays in 4 KiB pages, and the full benchmark run measured cancel
// and submit 2-3x slower that way. LeakSanitizer does not scan anonymous
// mappings for pointers, so under it each region is registered as a root:
// the job table's records point to heap blocks (their JobExtras).
inline void* AllocateHugeRegion(size_t bytes) {
  const size_t size = RoundUpToHugePage(bytes);
  // Over-reserve by one huge page, then give back the unaligned ends.
  const size_t reserve = size + kHugePageBytes;
  void* raw = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + reserve;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  void* region = reinterpret_cast<void*>(aligned);
  madvise(region, size, MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
#if CASCADE_HAS_LSAN
  __lsan_register_root_region(region, size);
#endif
  return region;
}

// Releases a region from AllocateHugeRegion(bytes), with the same `bytes`.
inline void FreeHugeRegion(void* region, size_t bytes) {
  if (region == nullptr) return;
#if CASCADE_HAS_LSAN
  __lsan_unregister_root_region(region, RoundUpToHugePage(bytes));
#endif
  munmap(region, RoundUpToHugePage(bytes));
}

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
