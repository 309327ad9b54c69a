// Copyright 2026 The Cascade Authors.
//
// Checks of a JobSpec that need no engine state: sizes, tags, nesting, and
// duplicate dependencies. Lookups of `depends_on` ids happen in the engine.

#ifndef CASCADE_ENGINE_SPEC_SPEC_VALIDATION_H_
#define CASCADE_ENGINE_SPEC_SPEC_VALIDATION_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "cascade/job.h"
#include "cascade/status.h"

namespace cascade::internal {

inline constexpr size_t kMaxTemplateBytes = 256;
inline constexpr size_t kMaxTags = 32;
inline constexpr size_t kMaxTagBytes = 64;
inline constexpr size_t kMaxDependsOn = 1000;
inline constexpr int kMaxNestingDepth = 8;
inline constexpr size_t kMaxJobsPerSpec = 1000;
inline constexpr size_t kMaxPayloadBytes = size_t{1} << 20;
inline constexpr size_t kMaxOutputUrlBytes = 4096;
inline constexpr size_t kMaxTeamBytes = 128;
inline constexpr size_t kMaxWebhookUrlBytes = 2048;
inline constexpr size_t kMaxWebhookHeaders = 32;
inline constexpr size_t kMaxWebhookHeaderNameBytes = 64;
inline constexpr size_t kMaxWebhookHeaderValueBytes = 1024;
inline constexpr size_t kMaxWebhookDataBytes = size_t{64} << 10;

// OK, or InvalidArgument with one field violation per problem found.
absl::Status ValidateSpec(const JobSpec& spec);

// OK, or InvalidArgument: a team name is 1-128 bytes.
absl::Status ValidateTeam(std::string_view team);

// The ids a call names (cancel, retry, suspend, resume many): 1-1000 of them,
// none repeated. InvalidArgument otherwise ("invalid <request> request"; each
// repeat a field violation).
absl::Status ValidateIdList(absl::Span<const JobId> ids, std::string_view request);

// The checks of cascade/webhook.h's WebhookSpec comment; each violation is
// named `<path>webhook.<field>`.
void CheckWebhook(const WebhookSpec& webhook, const std::string& path,
                  std::vector<FieldViolation>& out);

// Jobs the spec creates: itself and every nested child.
size_t CountJobs(const JobSpec& spec);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_SPEC_SPEC_VALIDATION_H_
