// Copyright 2026 The Cascade Authors.
//
// Identifiers and timestamps (contract §2): ULIDs in Crockford base32 matching
// ^[0-9A-HJKMNP-TV-Z]{26}$, generated monotonically; ParseJobIds; and the
// ISO 8601 UTC timestamps of the wire format.

#include "cascade/ids.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cascade/job.h"
#include "cascade/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr char kPattern[] = "^[0-9A-HJKMNP-TV-Z]{26}$";

// The id one above `id` (128-bit increment).
Ulid Successor(const Ulid& id) {
  const uint64_t lo = id.lo() + 1;
  return Ulid(lo == 0 ? id.hi() + 1 : id.hi(), lo);
}

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

// ---- Text form ----------------------------------------------------------------

struct KnownUlid {
  Ulid value;
  const char* text;
};

TEST(UlidTest, FormatsKnownValues) {
  const KnownUlid kCases[] = {
      {Ulid(), "00000000000000000000000000"},
      {Ulid(0, 1), "00000000000000000000000001"},
      {Ulid(0, 31), "0000000000000000000000000Z"},
      {Ulid(0, 32), "00000000000000000000000010"},
      {Ulid(uint64_t{1} << 63, 0), "40000000000000000000000000"},
      {Ulid(~uint64_t{0}, ~uint64_t{0}), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
  };
  for (const KnownUlid& c : kCases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(c.value.ToString(), c.text);
    char out[26];
    c.value.AppendTo(out);
    EXPECT_EQ(std::string(out, 26), c.text);
    absl::StatusOr<Ulid> parsed = Ulid::Parse(c.text);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, c.value);
  }
}

TEST(UlidTest, ParsesTheSpecificationExample) {
  // The example of the ULID specification. Its first ten characters,
  // "01ARZ3NDEK", decode to 1469922850259 ms since the epoch (the figure the
  // specification's prose quotes beside it, 1469918176385, does not match its
  // own example string: 0*32^9 + 1*32^8 + 10*32^7 + ... = 1469922850259).
  CASCADE_ASSERT_OK_AND_ASSIGN(Ulid id, Ulid::Parse("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  EXPECT_EQ(id.unix_millis(), 1469922850259u);
  EXPECT_EQ(id.ToString(), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
}

TEST(UlidTest, RoundTripsEveryCharacterInEveryPosition) {
  for (int pos = 1; pos < 26; ++pos) {
    for (const char* c = kAlphabet; *c != '\0'; ++c) {
      std::string text(26, '0');
      text[pos] = *c;
      SCOPED_TRACE(text);
      EXPECT_TRUE(Ulid::IsValid(text));
      absl::StatusOr<Ulid> parsed = Ulid::Parse(text);
      ASSERT_THAT(parsed, IsOk());
      EXPECT_EQ(parsed->ToString(), text);
    }
  }
  // The first character carries only the top three bits: 0-7.
  for (char first = '0'; first <= '7'; ++first) {
    std::string text = std::string(1, first) + std::string(25, 'Z');
    SCOPED_TRACE(text);
    absl::StatusOr<Ulid> parsed = Ulid::Parse(text);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(parsed->ToString(), text);
  }
}

TEST(UlidTest, ValueOrderIsTextOrder) {
  const std::vector<std::string> ascending = {
      "00000000000000000000000000", "00000000000000000000000001", "0000000000000000000000000Z",
      "00000000000000000000000010", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAW",
      "01ARZ3NDEKTSV4RRFFQ69G5FB0", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
  };
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    SCOPED_TRACE(ascending[i]);
    CASCADE_ASSERT_OK_AND_ASSIGN(Ulid a, Ulid::Parse(ascending[i]));
    CASCADE_ASSERT_OK_AND_ASSIGN(Ulid b, Ulid::Parse(ascending[i + 1]));
    EXPECT_LT(a, b);
  }
}

TEST(UlidTest, RejectsTextOutsideThePattern) {
  const std::string kBad[] = {
      "",                             // empty
      "0000000000000000000000000",    // 25 characters
      "000000000000000000000000000",  // 27 characters
      "01arz3ndektsv4rrffq69g5fav",   // lowercase
      "01ARZ3NDEKTSV4RRFFQ69G5FAv",   // one lowercase character
      "0000000000000000000000000I",   // I is not in the alphabet
      "0000000000000000000000000L",   // L
      "0000000000000000000000000O",   // O
      "0000000000000000000000000U",   // U
      "000000000000000000000000-0",   // punctuation
      "0000000000000 000000000000",   // space
      "80000000000000000000000000",   // first character above '7': overflows 128 bits
      "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",   // likewise
      std::string("0000000000000\0"
                  "000000000000",
                  26),  // NUL inside
  };
  for (const std::string& text : kBad) {
    SCOPED_TRACE("'" + text + "'");
    EXPECT_FALSE(Ulid::IsValid(text));
    EXPECT_THAT(Ulid::Parse(text), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(UlidTest, ParseErrorNamesTheText) {
  EXPECT_THAT(
      Ulid::Parse("01arz3ndektsv4rrffq69g5fav"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("01arz3ndektsv4rrffq69g5fav")));
  EXPECT_THAT(Ulid::Parse("not-an-id"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not-an-id")));
}

// ---- Generation ---------------------------------------------------------------

TEST(IdGeneratorTest, EncodesTheTimeInMilliseconds) {
  IdGenerator ids(42);
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'123) + absl::Microseconds(456);
  const Ulid id = ids.Next(t);
  EXPECT_EQ(id.unix_millis(), 1'700'000'000'123u);
  EXPECT_THAT(id.ToString(), MatchesRegex(kPattern));
  EXPECT_FALSE(id.is_zero());
}

TEST(IdGeneratorTest, MillisecondsAndTimesMakeTheSameIds) {
  IdGenerator by_time(42), by_millis(42);
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'123) + absl::Microseconds(456);
  EXPECT_EQ(by_millis.NextAtMillis(1'700'000'000'123), by_time.Next(t));
  EXPECT_EQ(by_millis.NextAtMillis(1'700'000'000'123), by_time.Next(t));  // the successor
  EXPECT_EQ(by_millis.NextAtMillis(1'700'000'000'124), by_time.Next(t + absl::Milliseconds(1)));
  // Before the epoch counts as the epoch, which lies behind: the successor.
  IdGenerator early(1);
  const Ulid first = early.NextAtMillis(-5);
  EXPECT_EQ(first.unix_millis(), 0u);
  EXPECT_EQ(early.NextAtMillis(-1), Successor(first));
}

TEST(IdGeneratorTest, IdsWithinOneMillisecondIncreaseByOne) {
  IdGenerator ids(7);
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'000);
  const Ulid first = ids.Next(t);
  const Ulid second = ids.Next(t);
  const Ulid third = ids.Next(t + absl::Microseconds(999));  // same millisecond
  EXPECT_EQ(second, Successor(first));
  EXPECT_EQ(third, Successor(second));
  EXPECT_EQ(third.unix_millis(), 1'700'000'000'000u);
}

TEST(IdGeneratorTest, ClockSteppingBackStillIncreasesByOne) {
  IdGenerator ids(7);
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'000);
  const Ulid before = ids.Next(t);
  const Ulid back = ids.Next(t - absl::Seconds(5));
  EXPECT_EQ(back, Successor(before));
  EXPECT_EQ(back.unix_millis(), before.unix_millis());
  const Ulid back_again = ids.Next(t - absl::Hours(1));
  EXPECT_EQ(back_again, Successor(back));
}

TEST(IdGeneratorTest, NewMillisecondGivesNewTimePartAndLargerId) {
  IdGenerator ids(7);
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'000);
  const Ulid a = ids.Next(t);
  const Ulid b = ids.Next(t + absl::Milliseconds(1));
  EXPECT_EQ(b.unix_millis(), a.unix_millis() + 1);
  EXPECT_GT(b, a);
}

TEST(IdGeneratorTest, ManyIdsAreStrictlyIncreasingAndValid) {
  IdGenerator ids(3);
  absl::Time t = absl::FromUnixMillis(1'700'000'000'000);
  Ulid previous = ids.Next(t);
  for (int i = 0; i < 5000; ++i) {
    // Mostly the same millisecond, sometimes forward, sometimes back.
    if (i % 7 == 0) t += absl::Milliseconds(1);
    if (i % 13 == 0) t -= absl::Milliseconds(3);
    const Ulid next = ids.Next(t);
    ASSERT_GT(next, previous) << "at " << i;
    ASSERT_TRUE(Ulid::IsValid(next.ToString())) << next.ToString();
    previous = next;
  }
}

TEST(IdGeneratorTest, SameSeedAndTimesGiveSameIds) {
  IdGenerator a(42);
  IdGenerator b(42);
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'000);
  const absl::Time times[] = {t, t, t + absl::Milliseconds(2), t + absl::Seconds(1), t};
  for (absl::Time time : times) {
    EXPECT_EQ(a.Next(time), b.Next(time));
  }
}

TEST(IdGeneratorTest, DifferentSeedsGiveDifferentRandomParts) {
  IdGenerator a(1);
  IdGenerator b(2);
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'000);
  EXPECT_NE(a.Next(t), b.Next(t));
}

TEST(IdGeneratorTest, EntropySeededGeneratorMakesValidIds) {
  IdGenerator ids;
  const Ulid a = ids.Next(absl::Now());
  const Ulid b = ids.Next(absl::Now());
  EXPECT_THAT(a.ToString(), MatchesRegex(kPattern));
  EXPECT_GT(b, a);
}

// ---- ParseJobIds --------------------------------------------------------------

TEST(ParseJobIdsTest, ParsesEveryEntryInOrder) {
  const std::vector<std::string> texts = {
      "01ARZ3NDEKTSV4RRFFQ69G5FAV", "00000000000000000000000001", "01ARZ3NDEKTSV4RRFFQ69G5FAV"};
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<JobId> ids, ParseJobIds(texts));
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].ToString(), texts[0]);
  EXPECT_EQ(ids[1], Ulid(0, 1));
  EXPECT_EQ(ids[2], ids[0]);  // duplicates are the caller's concern
}

TEST(ParseJobIdsTest, ListsEveryBadEntryWithItsPosition) {
  const std::vector<std::string> texts = {
      "01ARZ3NDEKTSV4RRFFQ69G5FAV",  // good
      "x",                           // bad
      "00000000000000000000000001",  // good
      "01arz3ndektsv4rrffq69g5fav",  // bad: lowercase
      "80000000000000000000000000",  // bad: overflow
  };
  absl::StatusOr<std::vector<JobId>> parsed = ParseJobIds(texts);
  EXPECT_THAT(parsed,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("jobs[1]"), HasSubstr("'x'"), HasSubstr("jobs[3]"),
                             HasSubstr("01arz3ndektsv4rrffq69g5fav"), HasSubstr("jobs[4]"))));
  EXPECT_THAT(
      GetFieldViolations(parsed.status()),
      ElementsAre(AllOf(Field(&FieldViolation::field, "jobs[1]"),
                        Field(&FieldViolation::message, HasSubstr("x"))),
                  AllOf(Field(&FieldViolation::field, "jobs[3]"),
                        Field(&FieldViolation::message, HasSubstr("01arz3ndektsv4rrffq69g5fav"))),
                  AllOf(Field(&FieldViolation::field, "jobs[4]"),
                        Field(&FieldViolation::message, HasSubstr("80000000000000000000000000")))));
}

TEST(ParseJobIdsTest, GoodEntriesAreNotListedAsViolations) {
  const std::vector<std::string> texts = {"bad", "01ARZ3NDEKTSV4RRFFQ69G5FAV"};
  absl::StatusOr<std::vector<JobId>> parsed = ParseJobIds(texts);
  ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GetFieldViolations(parsed.status()),
              ElementsAre(Field(&FieldViolation::field, "jobs[0]")));
}

// ---- Timestamps ---------------------------------------------------------------

struct FormatCase {
  absl::Time time;
  const char* text;
};

TEST(TimestampTest, FormatsIso8601UtcWithMilliseconds) {
  const FormatCase kCases[] = {
      {absl::UnixEpoch(), "1970-01-01T00:00:00.000Z"},
      {absl::FromUnixMillis(1'700'000'000'123), "2023-11-14T22:13:20.123Z"},
      {Utc(2026, 11, 22, 18, 30, 0), "2026-11-22T18:30:00.000Z"},
      {Utc(2026, 11, 22, 18, 30, 0) + absl::Milliseconds(7), "2026-11-22T18:30:00.007Z"},
      {Utc(2026, 11, 22, 18, 30, 0) + absl::Microseconds(123'400), "2026-11-22T18:30:00.123Z"},
      {Utc(1999, 12, 31, 23, 59, 59) + absl::Milliseconds(999), "1999-12-31T23:59:59.999Z"},
  };
  for (const FormatCase& c : kCases) {
    EXPECT_EQ(FormatTimestamp(c.time), c.text);
  }
}

// AppendTimestamp writes years 1970-9999 by hand and leaves the rest to
// absl::FormatTime: both give FormatTime's text, at the edges of the range
// (leap days, the last millisecond of a year, 9999, the infinities) and at
// random times between 1900 and 10100.
TEST(TimestampTest, MatchesAbslFormatTimeEverywhere) {
  const auto expected = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", t, absl::UTCTimeZone());
  };
  std::vector<absl::Time> times = {
      absl::UnixEpoch(),
      absl::UnixEpoch() - absl::Nanoseconds(1),
      absl::UnixEpoch() - absl::Milliseconds(1500),
      absl::UnixEpoch() + absl::Nanoseconds(999'999),
      Utc(2000, 2, 29, 12, 0, 0),
      Utc(2100, 2, 28, 23, 59, 59) + absl::Microseconds(999'999),
      Utc(2100, 3, 1),
      Utc(2024, 12, 31, 23, 59, 59) + absl::Milliseconds(999),
      Utc(9999, 12, 31, 23, 59, 59) + absl::Milliseconds(999),
      Utc(10000, 1, 1),
      Utc(1969, 12, 31, 23, 59, 59) + absl::Milliseconds(5),
      absl::InfiniteFuture(),
      absl::InfinitePast(),
  };
  std::mt19937_64 rng(20261205);
  const int64_t lo = absl::ToUnixNanos(Utc(1900, 1, 1));
  const int64_t hi = absl::ToUnixMillis(Utc(10100, 1, 1));
  std::uniform_int_distribution<int64_t> nanos(lo, std::numeric_limits<int64_t>::max());
  std::uniform_int_distribution<int64_t> millis(0, hi);
  for (int i = 0; i < 20'000; ++i) {
    times.push_back(absl::FromUnixNanos(nanos(rng)));
    times.push_back(absl::FromUnixMillis(millis(rng)) + absl::Nanoseconds(rng() % 1'000'000));
  }
  for (absl::Time t : times) {
    ASSERT_EQ(FormatTimestamp(t), expected(t)) << absl::ToUnixNanos(t);
    std::string appended = "x";
    AppendTimestamp(t, appended);
    ASSERT_EQ(appended, "x" + expected(t));
  }
}

struct ParseCase {
  const char* text;
  absl::Time expected;
};

TEST(TimestampTest, ParsesDatesZuluOffsetsAndFractions) {
  const absl::Time base = Utc(2026, 11, 22, 18, 30, 0);
  const ParseCase kCases[] = {
      {"2026-11-22", Utc(2026, 11, 22)},
      {"2026-11-22T18:30:00Z", base},
      {"2026-11-22T18:30:00.000Z", base},
      {"2026-11-22T18:30:00.123Z", base + absl::Milliseconds(123)},
      {"2026-11-22T18:30:00.5Z", base + absl::Milliseconds(500)},
      {"2026-11-22T18:30:00+00:00", base},
      {"2026-11-22T18:30:00.123+01:00", base - absl::Hours(1) + absl::Milliseconds(123)},
      {"2026-11-22T18:30:00-05:30", Utc(2026, 11, 23, 0, 0, 0)},
      {"2024-02-29T00:00:00Z", Utc(2024, 2, 29)},  // leap day
  };
  for (const ParseCase& c : kCases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<absl::Time> parsed = ParseTimestamp(c.text);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, c.expected) << absl::FormatTime(*parsed);
  }
}

TEST(TimestampTest, RejectsGarbage) {
  const char* kBad[] = {
      "",
      "yesterday",
      "2026/11/22",
      "22-11-2026",
      "2026-13-01",
      "2026-11-32",
      "2026-02-30",
      "2025-02-29",  // not a leap year
      "2026-11-22T",
      "2026-11-22T25:00:00Z",
      "2026-11-22T18:61:00Z",
      "2026-11-22T18:30:00Zjunk",
      "2026-11-22junk",
      "2026-11-22T18:30:00.Z",
  };
  for (const char* text : kBad) {
    SCOPED_TRACE(std::string("'") + text + "'");
    EXPECT_THAT(ParseTimestamp(text), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(TimestampTest, FormatThenParseRoundTrips) {
  const absl::Time times[] = {
      absl::UnixEpoch(),
      absl::FromUnixMillis(1'700'000'000'123),
      Utc(2026, 11, 22, 18, 30, 0) + absl::Milliseconds(999),
  };
  for (absl::Time t : times) {
    SCOPED_TRACE(FormatTimestamp(t));
    absl::StatusOr<absl::Time> parsed = ParseTimestamp(FormatTimestamp(t));
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, t);
  }
}

// ---- Texts made when read (cascade/job.h) -------------------------------------

TEST(OutputUrlTest, PlannedExpandsIdTeamAndBatchWhenRead) {
  const JobId id = JobId::Parse("01HZX3C5Y5V7E8W3J6T9Q2M1NB").value();
  const BatchId batch = BatchId::Parse("01HZX3C5Y5V7E8W3J6T9Q2M1NC").value();
  const std::string pattern = "s3://renders/{team}/{batch}/{id}.mp4";
  OutputUrl url = OutputUrl::Planned(pattern, id, "studio", batch);
  EXPECT_FALSE(url.empty());
  EXPECT_EQ(url.str(),
            "s3://renders/studio/01HZX3C5Y5V7E8W3J6T9Q2M1NC/01HZX3C5Y5V7E8W3J6T9Q2M1NB.mp4");
  EXPECT_EQ(url, "s3://renders/studio/01HZX3C5Y5V7E8W3J6T9Q2M1NC/01HZX3C5Y5V7E8W3J6T9Q2M1NB.mp4");
  // Without a batch {batch} is empty; an owned pattern outlives its source.
  std::string own = "file:///out/{id}-{batch}.mov";
  OutputUrl owned = OutputUrl::PlannedOwned(own, id, "studio", std::nullopt);
  own.assign("changed");
  EXPECT_EQ(owned.str(), "file:///out/01HZX3C5Y5V7E8W3J6T9Q2M1NB-.mov");
  std::string appended = "url=";
  owned.AppendTo(appended);
  EXPECT_EQ(appended, "url=file:///out/01HZX3C5Y5V7E8W3J6T9Q2M1NB-.mov");
}

TEST(OutputUrlTest, AStringIsKeptAsItIs) {
  OutputUrl url = std::string("https://cdn.example.com/{id}.mp4");
  EXPECT_EQ(url.str(), "https://cdn.example.com/{id}.mp4");  // not a pattern: literal
  EXPECT_TRUE(OutputUrl().empty());
  EXPECT_FALSE(url.empty());
  std::ostringstream printed;
  printed << url;
  EXPECT_EQ(printed.str(), "https://cdn.example.com/{id}.mp4");
}

TEST(ErrorTextTest, EachKindReadsAsItsText) {
  const JobId id = JobId::Parse("01HZX3C5Y5V7E8W3J6T9Q2M1NB").value();
  EXPECT_EQ(ErrorText::Static("Cancelled via API").str(), "Cancelled via API");
  EXPECT_EQ(ErrorText::NamingJob("prerequisite ", id, " failed").str(),
            "prerequisite 01HZX3C5Y5V7E8W3J6T9Q2M1NB failed");
  EXPECT_EQ(ErrorText::WithNumber("lease expired after ", 3, " attempts").str(),
            "lease expired after 3 attempts");
  EXPECT_EQ(ErrorText::WithNumber("timed out after ", 0.25, " s").str(), "timed out after 0.25 s");
  EXPECT_EQ(ErrorText("render crashed"), "render crashed");
  EXPECT_EQ(ErrorText("a"), ErrorText::Static("a"));
  EXPECT_FALSE(ErrorText("a") == "b");
  std::string out = "error: ";
  ErrorText::NamingJob("Cancelled: cascade from ", id, "").AppendTo(out);
  EXPECT_EQ(out, "error: Cancelled: cascade from 01HZX3C5Y5V7E8W3J6T9Q2M1NB");
}

}  // namespace
}  // namespace cascade
