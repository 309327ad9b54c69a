// Copyright 2026 The Cascade Authors.
//
// Which families retention purges, and when.

#include "engine/retention/retention.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "engine/journal/rows.h"
#include "engine/model/cascade_rules.h"

namespace cascade::internal {

void Retention::OnTransition(const JobChange& change) {
  if (enabled() && IsTerminal(change.to) && change.from != change.to) {
    ended_.insert({change.now_ms, change.slot});
  }
}

size_t Retention::PurgeExpired(JobModel& model, Outbox& outbox, Journal& journal, int64_t now_ms,
                               size_t budget) {
  if (!enabled()) return 0;
  const int64_t retention_ms = absl::ToInt64Milliseconds(retention_);
  if (now_ms < std::numeric_limits<int64_t>::min() + retention_ms) return 0;
  // A job that ended before the cutoff ended more than `retention` ago.
  const int64_t cutoff = now_ms - retention_ms;
  auto old = [&](uint32_t s) {
    const JobRecord& job = model.job(s);
    return IsTerminal(job.state()) && job.timeline.updated_ms < cutoff;
  };
  std::vector<uint32_t> jobs;
  std::vector<BatchNo> batches;
  size_t purged = 0, walked = 0;
  while (walked < budget && !ended_.empty() && ended_.begin()->first < cutoff) {
    const uint32_t slot = ended_.begin()->second;
    ended_.erase(ended_.begin());
    if (model.job(slot).purged()) continue;
    CollectFamily(model, slot, /*through_batches=*/true, jobs, batches);
    walked += jobs.size();
    if (!std::all_of(jobs.begin(), jobs.end(), old)) {
      for (uint32_t s : jobs) {
        if (old(s)) ended_.erase({model.job(s).timeline.updated_ms, s});
      }
      continue;
    }
    std::vector<uint64_t> letters;
    if (!outbox.RemoveIfIdle(absl::flat_hash_set<uint32_t>(jobs.begin(), jobs.end()), &letters)) {
      // Look again in a minute: a delivery ends within its retries.
      ended_.insert({cutoff + 60'000, slot});
      continue;
    }
    for (uint64_t key : letters) journal.AddRow(Change::Delete(Table::kOutbox, HexKey(key)));
    model.Purge(jobs, batches);
    purged += jobs.size();
  }
  return purged;
}

}  // namespace cascade::internal
