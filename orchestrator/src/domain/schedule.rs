//! Schedule arithmetic: when a recurring schedule fires next. Pure functions over
//! millisecond timestamps and a time zone; civil dates are computed here exactly, time
//! zones (and their daylight-saving rules) come from `jiff`.
//!
//! Rules: a schedule never fires before its `start`; calendar schedules keep their wall
//! clock time across daylight-saving changes (a time that does not exist that day fires at
//! the first instant after the gap; a time that exists twice fires at the first one); a day
//! of month past the month's end fires on the month's last day.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// A wall-clock time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOfDay {
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// 0 = Monday … 6 = Sunday.
    pub fn index(self) -> i64 {
        self as i64
    }
}

/// Which occurrence of a weekday in a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WeekOfMonth {
    /// 1st.
    First,
    /// 2nd.
    Second,
    /// 3rd.
    Third,
    /// 4th.
    Fourth,
    /// The last one (4th or 5th).
    Last,
}

/// How a schedule recurs (the forms of `jobs.md` and of snapshot schedules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recurrence {
    /// Every `n` minutes from the start.
    EveryMinutes {
        /// Interval.
        n: u32,
    },
    /// Every `n` hours from the start.
    EveryHours {
        /// Interval.
        n: u32,
    },
    /// Every `n` weeks at the start's weekday and wall-clock time.
    EveryWeeks {
        /// Interval.
        n: u32,
    },
    /// Every `n` months at the start's day (clamped to month end) and wall-clock time.
    EveryMonths {
        /// Interval.
        n: u32,
    },
    /// Every `every_days` days (counted from the start date) at `at`.
    Daily {
        /// Interval in days.
        every_days: u32,
        /// Time of day.
        at: TimeOfDay,
    },
    /// Every `every_weeks` weeks (from the start's week) on `weekday` at `at`.
    Weekly {
        /// Interval in weeks.
        every_weeks: u32,
        /// Day of the week.
        weekday: Weekday,
        /// Time of day.
        at: TimeOfDay,
    },
    /// From the start's month, every `every_months` months on `day` at `at`.
    MonthlyByDay {
        /// Interval in months.
        every_months: u32,
        /// Day of month 1–31 (past the month's end: its last day).
        day: u8,
        /// Time of day.
        at: TimeOfDay,
    },
    /// From the start's month, every `every_months` months on the `week`-th `weekday`.
    MonthlyByWeekday {
        /// Interval in months.
        every_months: u32,
        /// Which occurrence.
        week: WeekOfMonth,
        /// Day of the week.
        weekday: Weekday,
        /// Time of day.
        at: TimeOfDay,
    },
}

/// A complete schedule: recurrence, time zone, and the first instant it may fire.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// How it recurs.
    pub recurrence: Recurrence,
    /// Time zone of the wall-clock rules.
    pub tz: TimeZone,
    /// Nothing fires before this (ms since the epoch).
    pub start: i64,
}

/// Why a schedule is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// An interval out of range.
    #[error("{0} must be between 1 and {1}")]
    Interval(&'static str, u32),
    /// Hour or minute out of range.
    #[error("time of day must be 00:00 to 23:59")]
    TimeOfDay,
    /// Day of month out of range.
    #[error("day of month must be 1 to 31")]
    Day,
    /// Unknown time zone.
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
}

impl Recurrence {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        fn iv(name: &'static str, v: u32, max: u32) -> Result<(), ScheduleError> {
            if (1..=max).contains(&v) {
                Ok(())
            } else {
                Err(ScheduleError::Interval(name, max))
            }
        }
        fn tod(at: TimeOfDay) -> Result<(), ScheduleError> {
            if at.hour < 24 && at.minute < 60 {
                Ok(())
            } else {
                Err(ScheduleError::TimeOfDay)
            }
        }
        match *self {
            Recurrence::EveryMinutes { n } => iv("minutes", n, 60 * 24 * 366),
            Recurrence::EveryHours { n } => iv("hours", n, 24 * 366),
            Recurrence::EveryWeeks { n } => iv("weeks", n, 520),
            Recurrence::EveryMonths { n } => iv("months", n, 120),
            Recurrence::Daily { every_days, at } => {
                iv("every_days", every_days, 3660)?;
                tod(at)
            }
            Recurrence::Weekly {
                every_weeks, at, ..
            } => {
                iv("every_weeks", every_weeks, 520)?;
                tod(at)
            }
            Recurrence::MonthlyByDay {
                every_months,
                day,
                at,
            } => {
                iv("every_months", every_months, 120)?;
                if !(1..=31).contains(&day) {
                    return Err(ScheduleError::Day);
                }
                tod(at)
            }
            Recurrence::MonthlyByWeekday {
                every_months, at, ..
            } => {
                iv("every_months", every_months, 120)?;
                tod(at)
            }
        }
    }
}

impl Schedule {
    /// A validated schedule in the named IANA time zone.
    pub fn new(recurrence: Recurrence, time_zone: &str, start: i64) -> Result<Self, ScheduleError> {
        recurrence.validate()?;
        let tz =
            TimeZone::get(time_zone).map_err(|_| ScheduleError::TimeZone(time_zone.to_owned()))?;
        Ok(Schedule {
            recurrence,
            tz,
            start,
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days in a month.
pub fn days_in_month(y: i64, m: i64) -> i64 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)
}

/// 0 = Monday … 6 = Sunday.
pub fn weekday_of(day_number: i64) -> i64 {
    (day_number + 3).rem_euclid(7)
}

/// Local wall-clock (day number, minute of day) of an instant in `tz`.
fn local(tz: &TimeZone, ms: i64) -> Option<(i64, i64, i64)> {
    let z = jiff::Timestamp::from_millisecond(ms)
        .ok()?
        .to_zoned(tz.clone());
    let day = days_from_civil(
        i64::from(z.year()),
        i64::from(z.month()),
        i64::from(z.day()),
    );
    Some((day, i64::from(z.hour()), i64::from(z.minute())))
}

/// The instant of a wall-clock time in `tz` (gaps move forward, folds take the first).
fn instant(tz: &TimeZone, day: i64, hour: i64, minute: i64) -> Option<i64> {
    let (y, m, d) = civil_from_days(day);
    let dt = jiff::civil::DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        0,
        0,
    )
    .ok()?;
    Some(dt.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond())
}

fn month_index(y: i64, m: i64) -> i64 {
    y * 12 + (m - 1)
}

fn month_of(index: i64) -> (i64, i64) {
    (index.div_euclid(12), index.rem_euclid(12) + 1)
}

fn nth_weekday(y: i64, m: i64, week: WeekOfMonth, weekday: Weekday) -> i64 {
    let first = days_from_civil(y, m, 1);
    let offset = (weekday.index() - weekday_of(first)).rem_euclid(7);
    let first_match = first + offset;
    match week {
        WeekOfMonth::First => first_match,
        WeekOfMonth::Second => first_match + 7,
        WeekOfMonth::Third => first_match + 14,
        WeekOfMonth::Fourth => first_match + 21,
        WeekOfMonth::Last => {
            let last = first + days_in_month(y, m) - 1;
            last - (weekday_of(last) - weekday.index()).rem_euclid(7)
        }
    }
}

/// The first instant strictly after `after` (and not before the start) at which `s` fires.
/// `None` only past the supported calendar range.
pub fn next_after(s: &Schedule, after: i64) -> Option<i64> {
    let fixed = |period: i64| -> Option<i64> {
        if after < s.start {
            return Some(s.start);
        }
        let k = (after - s.start) / period + 1;
        s.start.checked_add(k.checked_mul(period)?)
    };
    match s.recurrence {
        Recurrence::EveryMinutes { n } => fixed(i64::from(n) * MINUTE),
        Recurrence::EveryHours { n } => fixed(i64::from(n) * HOUR),
        _ => next_calendar(s, after),
    }
}

fn next_calendar(s: &Schedule, after: i64) -> Option<i64> {
    let (start_day, start_h, start_m) = local(&s.tz, s.start)?;
    let (sy, sm, sd) = civil_from_days(start_day);
    let start_month = month_index(sy, sm);
    let from = after.max(s.start);
    let (from_day, _, _) = local(&s.tz, from)?;
    let (fy, fm, _) = civil_from_days(from_day);
    let months_elapsed = month_index(fy, fm) - start_month;
    let days_elapsed = from_day - start_day;

    // slot(k) is increasing in k; `estimate` is at or below the answer's k.
    let (estimate, slot): (i64, Box<dyn Fn(i64) -> Option<i64>>) = match s.recurrence {
        Recurrence::EveryWeeks { n } => {
            let period = 7 * i64::from(n);
            (
                days_elapsed / period - 1,
                Box::new(move |k| instant(&s.tz, start_day + k * period, start_h, start_m)),
            )
        }
        Recurrence::EveryMonths { n } => {
            let n = i64::from(n);
            (
                months_elapsed / n - 1,
                Box::new(move |k| {
                    let (y, m) = month_of(start_month + k * n);
                    let d = sd.min(days_in_month(y, m));
                    instant(&s.tz, days_from_civil(y, m, d), start_h, start_m)
                }),
            )
        }
        Recurrence::Daily { every_days, at } => {
            let period = i64::from(every_days);
            (
                days_elapsed / period - 1,
                Box::new(move |k| {
                    instant(
                        &s.tz,
                        start_day + k * period,
                        at.hour.into(),
                        at.minute.into(),
                    )
                }),
            )
        }
        Recurrence::Weekly {
            every_weeks,
            weekday,
            at,
        } => {
            let first = start_day + (weekday.index() - weekday_of(start_day)).rem_euclid(7);
            let period = 7 * i64::from(every_weeks);
            (
                (from_day - first) / period - 1,
                Box::new(move |k| {
                    instant(&s.tz, first + k * period, at.hour.into(), at.minute.into())
                }),
            )
        }
        Recurrence::MonthlyByDay {
            every_months,
            day,
            at,
        } => {
            let n = i64::from(every_months);
            (
                months_elapsed / n - 1,
                Box::new(move |k| {
                    let (y, m) = month_of(start_month + k * n);
                    let d = i64::from(day).min(days_in_month(y, m));
                    instant(
                        &s.tz,
                        days_from_civil(y, m, d),
                        at.hour.into(),
                        at.minute.into(),
                    )
                }),
            )
        }
        Recurrence::MonthlyByWeekday {
            every_months,
            week,
            weekday,
            at,
        } => {
            let n = i64::from(every_months);
            (
                months_elapsed / n - 1,
                Box::new(move |k| {
                    let (y, m) = month_of(start_month + k * n);
                    instant(
                        &s.tz,
                        nth_weekday(y, m, week, weekday),
                        at.hour.into(),
                        at.minute.into(),
                    )
                }),
            )
        }
        Recurrence::EveryMinutes { .. } | Recurrence::EveryHours { .. } => return None,
    };
    let first = estimate.max(0);
    for k in first..first + 64 {
        let t = slot(k)?;
        if t > after && t >= s.start {
            return Some(t);
        }
    }
    None
}

/// What to do about slots that passed while the orchestrator was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// Fire once, late, for all missed slots together.
    RunOnceLate,
    /// Fire nothing for missed slots; wait for the next one.
    Skip,
}

/// A slot is "missed" when found more than this late (ms).
pub const MISSED_AFTER_MS: i64 = 60_000;

/// The scheduler's decision for a schedule whose stored next slot is `slot`, at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Fire for this slot, or not at all (skipped).
    pub fire: Option<i64>,
    /// The next slot to store.
    pub next: Option<i64>,
}

/// `None` when `slot` is still in the future; otherwise whether to fire and the next slot
/// (always after `now`, so every other missed slot is passed over).
pub fn due(s: &Schedule, slot: i64, now: i64, policy: MissedPolicy) -> Option<Due> {
    if slot > now {
        return None;
    }
    let missed = now - slot > MISSED_AFTER_MS;
    let fire = (!missed || policy == MissedPolicy::RunOnceLate).then_some(slot);
    Some(Due {
        fire,
        next: next_after(s, now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn text(ms: i64, tz: &str) -> String {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .to_zoned(TimeZone::get(tz).unwrap())
            .strftime("%Y-%m-%d %H:%M %a")
            .to_string()
    }

    fn sched(r: Recurrence, tz: &str, start: &str) -> Schedule {
        Schedule::new(r, tz, ms(start)).unwrap()
    }

    fn at(hour: u8, minute: u8) -> TimeOfDay {
        TimeOfDay { hour, minute }
    }

    fn series(s: &Schedule, from: i64, n: usize, tz: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = from;
        for _ in 0..n {
            t = next_after(s, t).unwrap();
            out.push(text(t, tz));
        }
        out
    }

    #[test]
    fn civil_round_trip() {
        for z in -800_000..800_000i64 {
            if z % 997 != 0 {
                continue;
            }
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(weekday_of(0), 3); // 1970-01-01 was a Thursday
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
    }

    #[test]
    fn every_minutes_from_start() {
        let s = sched(
            Recurrence::EveryMinutes { n: 15 },
            "UTC",
            "2026-03-01T10:07:00Z",
        );
        assert_eq!(
            next_after(&s, ms("2026-01-01T00:00:00Z")),
            Some(ms("2026-03-01T10:07:00Z"))
        );
        assert_eq!(
            next_after(&s, ms("2026-03-01T10:07:00Z")),
            Some(ms("2026-03-01T10:22:00Z"))
        );
        assert_eq!(
            next_after(&s, ms("2026-03-01T10:21:59Z")),
            Some(ms("2026-03-01T10:22:00Z"))
        );
    }

    #[test]
    fn daily_keeps_wall_clock_across_dst() {
        // Berlin springs forward on 2026-03-29 (02:00 -> 03:00).
        let s = sched(
            Recurrence::Daily {
                every_days: 1,
                at: at(9, 30),
            },
            "Europe/Berlin",
            "2026-03-27T00:00:00Z",
        );
        assert_eq!(
            series(&s, ms("2026-03-27T00:00:00Z"), 4, "Europe/Berlin"),
            [
                "2026-03-27 09:30 Fri",
                "2026-03-28 09:30 Sat",
                "2026-03-29 09:30 Sun",
                "2026-03-30 09:30 Mon"
            ]
        );
        // A time inside the gap fires just after it.
        let gap = sched(
            Recurrence::Daily {
                every_days: 1,
                at: at(2, 30),
            },
            "Europe/Berlin",
            "2026-03-28T12:00:00Z",
        );
        assert_eq!(
            series(&gap, ms("2026-03-28T12:00:00Z"), 2, "Europe/Berlin"),
            ["2026-03-29 03:30 Sun", "2026-03-30 02:30 Mon"]
        );
    }

    #[test]
    fn weekly_every_two_weeks() {
        let s = sched(
            Recurrence::Weekly {
                every_weeks: 2,
                weekday: Weekday::Monday,
                at: at(1, 0),
            },
            "UTC",
            "2026-01-01T00:00:00Z", // a Thursday
        );
        assert_eq!(
            series(&s, ms("2026-01-01T00:00:00Z"), 3, "UTC"),
            [
                "2026-01-05 01:00 Mon",
                "2026-01-19 01:00 Mon",
                "2026-02-02 01:00 Mon"
            ]
        );
    }

    #[test]
    fn monthly_by_day_clamps_to_month_end() {
        let s = sched(
            Recurrence::MonthlyByDay {
                every_months: 1,
                day: 31,
                at: at(23, 0),
            },
            "UTC",
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(
            series(&s, ms("2026-01-01T00:00:00Z"), 4, "UTC"),
            [
                "2026-01-31 23:00 Sat",
                "2026-02-28 23:00 Sat",
                "2026-03-31 23:00 Tue",
                "2026-04-30 23:00 Thu"
            ]
        );
        // From month 2 every 3 months.
        let q = sched(
            Recurrence::MonthlyByDay {
                every_months: 3,
                day: 15,
                at: at(6, 0),
            },
            "Asia/Tokyo",
            "2026-02-10T00:00:00Z",
        );
        assert_eq!(
            series(&q, ms("2026-02-10T00:00:00Z"), 3, "Asia/Tokyo"),
            [
                "2026-02-15 06:00 Sun",
                "2026-05-15 06:00 Fri",
                "2026-08-15 06:00 Sat"
            ]
        );
    }

    #[test]
    fn monthly_by_weekday() {
        let s = sched(
            Recurrence::MonthlyByWeekday {
                every_months: 1,
                week: WeekOfMonth::Last,
                weekday: Weekday::Friday,
                at: at(18, 0),
            },
            "America/New_York",
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(
            series(&s, ms("2026-01-01T00:00:00Z"), 3, "America/New_York"),
            [
                "2026-01-30 18:00 Fri",
                "2026-02-27 18:00 Fri",
                "2026-03-27 18:00 Fri"
            ]
        );
        let second = sched(
            Recurrence::MonthlyByWeekday {
                every_months: 2,
                week: WeekOfMonth::Second,
                weekday: Weekday::Tuesday,
                at: at(0, 5),
            },
            "UTC",
            "2026-01-20T00:00:00Z",
        );
        // January's second Tuesday (13th) is before the start: the next is March's.
        assert_eq!(
            series(&second, ms("2026-01-20T00:00:00Z"), 2, "UTC"),
            ["2026-03-10 00:05 Tue", "2026-05-12 00:05 Tue"]
        );
    }

    #[test]
    fn every_months_from_the_31st() {
        let s = sched(
            Recurrence::EveryMonths { n: 1 },
            "UTC",
            "2026-01-31T12:00:00Z",
        );
        assert_eq!(
            series(&s, ms("2026-01-31T12:00:00Z"), 3, "UTC"),
            [
                "2026-02-28 12:00 Sat",
                "2026-03-31 12:00 Tue",
                "2026-04-30 12:00 Thu"
            ]
        );
    }

    #[test]
    fn missed_slots_policy() {
        let s = sched(
            Recurrence::EveryHours { n: 1 },
            "UTC",
            "2026-01-01T00:00:00Z",
        );
        let slot = ms("2026-01-01T05:00:00Z");
        assert_eq!(due(&s, slot, slot - 1, MissedPolicy::Skip), None);
        let on_time = due(&s, slot, slot + 1000, MissedPolicy::Skip).unwrap();
        assert_eq!(on_time.fire, Some(slot));
        assert_eq!(on_time.next, Some(ms("2026-01-01T06:00:00Z")));
        // Down for three hours.
        let late = ms("2026-01-01T08:10:00Z");
        let skip = due(&s, slot, late, MissedPolicy::Skip).unwrap();
        assert_eq!(
            skip,
            Due {
                fire: None,
                next: Some(ms("2026-01-01T09:00:00Z"))
            }
        );
        let once = due(&s, slot, late, MissedPolicy::RunOnceLate).unwrap();
        assert_eq!(
            once,
            Due {
                fire: Some(slot),
                next: Some(ms("2026-01-01T09:00:00Z"))
            }
        );
    }

    #[test]
    fn invalid_schedules_are_refused() {
        assert!(Schedule::new(Recurrence::EveryMinutes { n: 0 }, "UTC", 0).is_err());
        assert!(
            Schedule::new(
                Recurrence::Daily {
                    every_days: 1,
                    at: at(24, 0)
                },
                "UTC",
                0
            )
            .is_err()
        );
        assert!(
            Schedule::new(
                Recurrence::MonthlyByDay {
                    every_months: 1,
                    day: 32,
                    at: at(1, 0)
                },
                "UTC",
                0
            )
            .is_err()
        );
        assert!(Schedule::new(Recurrence::EveryHours { n: 1 }, "Mars/Olympus", 0).is_err());
    }

    const ZONES: [&str; 5] = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ];

    fn weekday() -> impl Strategy<Value = Weekday> {
        prop_oneof![
            Just(Weekday::Monday),
            Just(Weekday::Tuesday),
            Just(Weekday::Wednesday),
            Just(Weekday::Thursday),
            Just(Weekday::Friday),
            Just(Weekday::Saturday),
            Just(Weekday::Sunday)
        ]
    }

    fn week() -> impl Strategy<Value = WeekOfMonth> {
        prop_oneof![
            Just(WeekOfMonth::First),
            Just(WeekOfMonth::Second),
            Just(WeekOfMonth::Third),
            Just(WeekOfMonth::Fourth),
            Just(WeekOfMonth::Last)
        ]
    }

    fn recurrence() -> impl Strategy<Value = Recurrence> {
        let tod = (0u8..24, 0u8..60).prop_map(|(hour, minute)| TimeOfDay { hour, minute });
        prop_oneof![
            (1u32..500).prop_map(|n| Recurrence::EveryMinutes { n }),
            (1u32..100).prop_map(|n| Recurrence::EveryHours { n }),
            (1u32..10).prop_map(|n| Recurrence::EveryWeeks { n }),
            (1u32..13).prop_map(|n| Recurrence::EveryMonths { n }),
            (1u32..40, tod.clone())
                .prop_map(|(every_days, at)| Recurrence::Daily { every_days, at }),
            (1u32..6, weekday(), tod.clone()).prop_map(|(every_weeks, weekday, at)| {
                Recurrence::Weekly {
                    every_weeks,
                    weekday,
                    at,
                }
            }),
            (1u32..13, 1u8..32, tod.clone()).prop_map(|(every_months, day, at)| {
                Recurrence::MonthlyByDay {
                    every_months,
                    day,
                    at,
                }
            }),
            (1u32..13, week(), weekday(), tod).prop_map(|(every_months, week, weekday, at)| {
                Recurrence::MonthlyByWeekday {
                    every_months,
                    week,
                    weekday,
                    at,
                }
            }),
        ]
    }

    // 2000-01-01 .. 2060-01-01
    const LO: i64 = 946_684_800_000;
    const HI: i64 = 2_840_140_800_000;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn next_is_after_start_and_after_t(r in recurrence(), z in 0usize..5, start in LO..HI, t in LO..HI) {
            let s = Schedule::new(r, ZONES[z], start).unwrap();
            let next = next_after(&s, t).unwrap();
            prop_assert!(next > t);
            prop_assert!(next >= start);
        }

        #[test]
        fn no_slot_is_skipped(r in recurrence(), z in 0usize..5, start in LO..HI, t in LO..HI, frac in 0.0f64..1.0) {
            let s = Schedule::new(r, ZONES[z], start).unwrap();
            let next = next_after(&s, t).unwrap();
            // Any instant between t and next has the same next slot.
            let between = t + ((next - t - 1) as f64 * frac) as i64;
            prop_assert_eq!(next_after(&s, between), Some(next));
            // And the slot after it comes strictly later.
            prop_assert!(next_after(&s, next).unwrap() > next);
        }

        #[test]
        fn calendar_slots_match_their_rule(r in recurrence(), z in 0usize..5, start in LO..HI, t in LO..HI) {
            let s = Schedule::new(r, ZONES[z], start).unwrap();
            let next = next_after(&s, t).unwrap();
            let (day, hour, minute) = local(&s.tz, next).unwrap();
            let (y, m, d) = civil_from_days(day);
            let (sday, _, _) = local(&s.tz, start).unwrap();
            let (sy, sm, _) = civil_from_days(sday);
            let month_steps = month_index(y, m) - month_index(sy, sm);
            let check_time = |at: TimeOfDay| {
                // Equal, unless the wall time fell into a DST gap (then it is later that day).
                (hour, minute) == (i64::from(at.hour), i64::from(at.minute))
                    || instant(&s.tz, day, at.hour.into(), at.minute.into()) == Some(next)
            };
            match r {
                Recurrence::Daily { every_days, at } => {
                    prop_assert_eq!((day - sday).rem_euclid(i64::from(every_days)), 0);
                    prop_assert!(check_time(at));
                }
                Recurrence::Weekly { weekday, at, .. } => {
                    prop_assert_eq!(weekday_of(day), weekday.index());
                    prop_assert!(check_time(at));
                }
                Recurrence::MonthlyByDay { every_months, day: want, at } => {
                    prop_assert_eq!(month_steps.rem_euclid(i64::from(every_months)), 0);
                    prop_assert_eq!(d, i64::from(want).min(days_in_month(y, m)));
                    prop_assert!(check_time(at));
                }
                Recurrence::MonthlyByWeekday { every_months, week, weekday, at } => {
                    prop_assert_eq!(month_steps.rem_euclid(i64::from(every_months)), 0);
                    prop_assert_eq!(day, nth_weekday(y, m, week, weekday));
                    prop_assert!(check_time(at));
                }
                Recurrence::EveryMinutes { n } => {
                    prop_assert_eq!((next - start).rem_euclid(i64::from(n) * MINUTE), 0);
                }
                Recurrence::EveryHours { n } => {
                    prop_assert_eq!((next - start).rem_euclid(i64::from(n) * HOUR), 0);
                }
                Recurrence::EveryWeeks { .. } | Recurrence::EveryMonths { .. } => {}
            }
        }

        #[test]
        fn monotone(r in recurrence(), z in 0usize..5, start in LO..HI, a in LO..HI, b in LO..HI) {
            let s = Schedule::new(r, ZONES[z], start).unwrap();
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(next_after(&s, lo).unwrap() <= next_after(&s, hi).unwrap());
        }
    }
}
