// Copyright 2026 The Cascade Authors.
//
// File: cascade/cascade.h
// -----------------------------------------------------------------------------
// The whole public API in one include.

#ifndef CASCADE_CASCADE_H_
#define CASCADE_CASCADE_H_

#include "cascade/batch.h"       // IWYU pragma: export
#include "cascade/clock.h"       // IWYU pragma: export
#include "cascade/engine.h"      // IWYU pragma: export
#include "cascade/events.h"      // IWYU pragma: export
#include "cascade/ids.h"         // IWYU pragma: export
#include "cascade/job.h"         // IWYU pragma: export
#include "cascade/list_query.h"  // IWYU pragma: export
#include "cascade/options.h"     // IWYU pragma: export
#include "cascade/status.h"      // IWYU pragma: export
#include "cascade/webhook.h"     // IWYU pragma: export

#endif  // CASCADE_CASCADE_H_
