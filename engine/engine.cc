// Copyright 2026 The Cascade Authors.
//
// Engine::Create, the public factory: checks the options (each REQUIRES of
// cascade/options.h), opens the data directory's store if one is named, and
// starts an engine on it.

#include "cascade/engine.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/status.h"
#include "engine/engine_impl.h"
#include "engine/store/postgres_store.h"
#include "engine/store/sqlite_store.h"
#include "engine/util/status_macros.h"

namespace cascade {

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const Options& options) {
  std::vector<FieldViolation> bad;
  if (options.clock == nullptr) bad.push_back({"clock", "must not be null"});
  if (options.max_attempts < kMinMaxAttempts || options.max_attempts > kMaxMaxAttempts) {
    bad.push_back(
        {"max_attempts", absl::StrCat("must be ", kMinMaxAttempts, "-", kMaxMaxAttempts)});
  }
  if (options.retry_backoff < absl::ZeroDuration() || options.retry_backoff > kMaxRetryBackoff) {
    bad.push_back(
        {"retry_backoff", absl::StrCat("must be 0 to ", absl::FormatDuration(kMaxRetryBackoff))});
  }
  if (options.render_timeout && (*options.render_timeout <= absl::ZeroDuration() ||
                                 *options.render_timeout > kMaxRenderTimeout)) {
    bad.push_back({"render_timeout", absl::StrCat("must be positive, at most ",
                                                  absl::FormatDuration(kMaxRenderTimeout))});
  }
  if (options.lease_duration <= absl::ZeroDuration()) {
    bad.push_back({"lease_duration", "must be positive"});
  }
  if (options.abort_grace <= absl::ZeroDuration()) {
    bad.push_back({"abort_grace", "must be positive"});
  }
  const WebhookOptions& hooks = options.webhooks;
  if (hooks.max_retries < 0) bad.push_back({"webhooks.max_retries", "must be >= 0"});
  if (hooks.initial_backoff <= absl::ZeroDuration()) {
    bad.push_back({"webhooks.initial_backoff", "must be positive"});
  }
  if (!(hooks.backoff_factor >= 1.0 && hooks.backoff_factor <= 1000.0)) {
    bad.push_back({"webhooks.backoff_factor", "must be 1-1000"});
  }
  if (hooks.timeout <= absl::ZeroDuration())
    bad.push_back({"webhooks.timeout", "must be positive"});
  if (hooks.delivery_threads < 1 || hooks.delivery_threads > 256) {
    bad.push_back({"webhooks.delivery_threads", "must be 1-256"});
  }
  if (options.durability.retention <= absl::ZeroDuration()) {
    bad.push_back({"durability.retention", "must be positive"});
  }
  const DurabilityOptions& durability = options.durability;
  if (durability.leader_lease <= absl::ZeroDuration()) {
    bad.push_back({"durability.leader_lease", "must be positive"});
  }
  if (durability.leader_renew <= absl::ZeroDuration() ||
      durability.leader_renew >= durability.leader_lease) {
    bad.push_back({"durability.leader_renew", "must be positive and shorter than leader_lease"});
  }
  if (!bad.empty()) return InvalidArgumentWithViolations("invalid options", bad);
  std::unique_ptr<internal::Store> store;
  if (IsPostgresUrl(durability.data_dir)) {
    internal::PostgresStoreOptions store_options;
    store_options.synchronous_commit = durability.sync == DurabilityOptions::Sync::kFull;
    store_options.lease = durability.leader_lease;
    store_options.renew_every = durability.leader_renew;
    store_options.holder = durability.node_name;
    CASCADE_ASSIGN_OR_RETURN(store,
                             internal::OpenPostgresStore(durability.data_dir, store_options));
  } else if (!durability.data_dir.empty()) {
    internal::SqliteStoreOptions store_options;
    switch (options.durability.sync) {
      case DurabilityOptions::Sync::kFull:
        store_options.synchronous = internal::SqliteStoreOptions::Sync::kFull;
        break;
      case DurabilityOptions::Sync::kNormal:
        store_options.synchronous = internal::SqliteStoreOptions::Sync::kNormal;
        break;
      case DurabilityOptions::Sync::kOff:
        store_options.synchronous = internal::SqliteStoreOptions::Sync::kOff;
        break;
    }
    CASCADE_ASSIGN_OR_RETURN(store,
                             internal::OpenSqliteStore(options.durability.data_dir, store_options));
  }
  CASCADE_ASSIGN_OR_RETURN(std::unique_ptr<internal::EngineImpl> engine,
                           internal::CreateEngine(options, std::move(store)));
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace cascade
