// Copyright 2026 The Cascade Authors.
//
// WebhookTrigger: hears the job model, and when a job with a webhook ends
// (finished, error, manually_cancelled) stages its delivery in the outbox
// with the request built then, from the job's final view (contract §8).

#ifndef CASCADE_ENGINE_WEBHOOK_WEBHOOK_TRIGGER_H_
#define CASCADE_ENGINE_WEBHOOK_WEBHOOK_TRIGGER_H_

#include <string>

#include "engine/model/job_model.h"
#include "engine/webhook/outbox.h"

namespace cascade::internal {

// The request of job `slot`'s webhook: the job's view as JSON (or the spec's
// `data` when `custom`), its headers and the engine's, signed when
// `signing_secret` is set.
WebhookRequest BuildWebhookRequest(const JobModel& model, uint32_t slot,
                                   const std::string& delivery_id,
                                   const std::string& signing_secret);

class WebhookTrigger final : public ModelListener {
 public:
  // Not owned; they outlive the trigger.
  WebhookTrigger(JobModel& model, Outbox& outbox, std::string signing_secret)
      : model_(model), outbox_(outbox), signing_secret_(std::move(signing_secret)) {}

  void OnTransition(const JobChange& change) override;

 private:
  JobModel& model_;
  Outbox& outbox_;
  const std::string signing_secret_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_WEBHOOK_WEBHOOK_TRIGGER_H_
