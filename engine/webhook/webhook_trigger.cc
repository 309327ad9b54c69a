// Copyright 2026 The Cascade Authors.
//
// Deliveries staged as jobs end.

#include "engine/webhook/webhook_trigger.h"

#include "engine/model/job_views.h"
#include "wire/job_json.h"

namespace cascade::internal {

WebhookRequest BuildWebhookRequest(const JobModel& model, uint32_t slot,
                                   const std::string& delivery_id,
                                   const std::string& signing_secret) {
  const JobRecord& job = model.job(slot);
  const WebhookSpec& spec = *job.extras->webhook;
  WebhookRequest request;
  request.url = spec.url;
  request.method = spec.method;
  request.headers = spec.headers;
  if (spec.custom) {
    request.body = spec.data.empty() ? "{}" : spec.data;
  } else {
    request.body = wire::JobToJsonText(View(model, slot));
  }
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Cascade-Delivery-Id", delivery_id);
  request.headers.emplace_back("Cascade-Job-Id", job.id.ToString());
  if (!signing_secret.empty()) {
    request.headers.emplace_back("Cascade-Signature",
                                 WebhookSignature(signing_secret, request.body));
  }
  return request;
}

void WebhookTrigger::OnTransition(const JobChange& change) {
  if (change.restored || change.from == change.to || !IsTerminal(change.to)) return;
  const JobRecord& job = model_.job(change.slot);
  if (!job.extras || !job.extras->webhook) return;
  Delivery delivery;
  delivery.id = model_.NextId(change.now_ms).ToString();
  delivery.slot = change.slot;
  delivery.job_id = job.id;
  delivery.team = model_.teams().name(job.team);
  delivery.created_ms = change.now_ms;
  delivery.due_ms = change.now_ms;
  delivery.request = BuildWebhookRequest(model_, change.slot, delivery.id, signing_secret_);
  outbox_.Stage(std::move(delivery));
}

}  // namespace cascade::internal
