//! The Asia/Tokyo calendar that spending limits count in.
//!
//! A day and a month change at midnight JST (UTC+9), not at midnight UTC. Japan has no daylight
//! saving time, so the offset is fixed and no time-zone database is needed.

use time::{Date, Duration, OffsetDateTime, Time, UtcOffset};

/// Japan Standard Time, UTC+9, all year.
pub const JST: UtcOffset = time::macros::offset!(+9);

/// A half-open interval of instants: `start <= t < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl Window {
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.start <= t && t < self.end
    }
}

/// The Tokyo calendar date of an instant.
pub fn date(now: OffsetDateTime) -> Date {
    now.to_offset(JST).date()
}

fn midnight(date: Date) -> OffsetDateTime {
    date.with_time(Time::MIDNIGHT).assume_offset(JST)
}

/// The Tokyo day containing `now`.
pub fn day(now: OffsetDateTime) -> Window {
    let start = midnight(date(now));
    Window { start, end: start + Duration::DAY }
}

/// The Tokyo calendar month containing `now`.
pub fn month(now: OffsetDateTime) -> Window {
    let today = date(now);
    let first = today.replace_day(1).unwrap_or(today);
    let next_first = if first.month() == time::Month::December {
        Date::from_calendar_date(first.year() + 1, time::Month::January, 1)
    } else {
        Date::from_calendar_date(first.year(), first.month().next(), 1)
    }
    .unwrap_or(Date::MAX);
    Window { start: midnight(first), end: midnight(next_first) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn day_changes_at_midnight_jst_not_utc() {
        // 23:59 JST on 31 March is 14:59 UTC; 00:00 JST on 1 April is 15:00 UTC on 31 March.
        let before = datetime!(2026-03-31 23:59:59 +9);
        let after = datetime!(2026-04-01 00:00:00 +9);
        assert_ne!(day(before), day(after));
        assert_eq!(day(after).start, datetime!(2026-03-31 15:00:00 UTC));
        assert_eq!(day(before).end, day(after).start);
        assert_eq!(date(datetime!(2026-03-31 15:00:00 UTC)).to_string(), "2026-04-01");
    }

    #[test]
    fn months_of_every_length() {
        let feb = month(datetime!(2028-02-29 12:00 +9));
        assert_eq!(feb.start, datetime!(2028-02-01 00:00 +9));
        assert_eq!(feb.end, datetime!(2028-03-01 00:00 +9));
        let dec = month(datetime!(2026-12-31 23:59:59 +9));
        assert_eq!(dec.end, datetime!(2027-01-01 00:00 +9));
        // 1 May 08:59 JST is still April in UTC, but it is May in Tokyo.
        assert!(month(datetime!(2026-04-30 23:59:59 UTC)).contains(datetime!(2026-05-01 08:59 +9)));
        assert_eq!(month(datetime!(2026-04-30 23:59:59 UTC)).start, datetime!(2026-05-01 00:00 +9));
    }
}
