// Copyright 2026 The Cascade Authors.
//
// A webhook delivery in the outbox (contract §8): its request, built once
// when the job ended, so every attempt sends the same bytes under the same
// signature and Cascade-Delivery-Id.

#ifndef CASCADE_ENGINE_WEBHOOK_DELIVERY_H_
#define CASCADE_ENGINE_WEBHOOK_DELIVERY_H_

#include <cstdint>
#include <string>

#include "cascade/ids.h"
#include "cascade/webhook.h"
#include "engine/state/job_state_machine.h"

namespace cascade::internal {

struct Delivery {
  enum class Stage : uint8_t { kPending, kInFlight, kDead };
  std::string id;  // Cascade-Delivery-Id: a ULID
  uint32_t slot = 0;
  JobId job_id;
  std::string team;
  Stage stage = Stage::kPending;
  int attempts = 0;
  int64_t created_ms = 0;
  int64_t due_ms = 0;  // pending: when the next attempt may start
  int64_t died_ms = kUnsetMillis;
  std::string last_error;
  WebhookRequest request;
  // The journal group that queued it: it is sent only once that group is
  // durable, so a webhook never announces a change a crash could take back.
  uint64_t ticket = 0;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_WEBHOOK_DELIVERY_H_
