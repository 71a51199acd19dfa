//! Free appointment slots. Opening hours are wall-clock times in the clinic's
//! zone, appointments are real instants: each local start is mapped to UTC
//! with the zone's rules, so slots stay right across DST changes.

use super::hours::WeeklyHours;
use chrono::{DateTime, Datelike, Days, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A half-open span of real time, `[start, end)`: back-to-back appointments
/// touch without overlapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The clinic's booking policy as slot generation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRules {
    /// Real time an appointment takes.
    pub length: Duration,
    /// Gap every slot keeps from every booked appointment, on both sides.
    pub buffer: Duration,
    /// Earliest a slot may start, counted from now.
    pub min_notice: Duration,
    /// How far ahead, in days of 24 h from now, slots may start.
    pub horizon_days: u32,
    /// Grid that slot starts sit on, counted from each opening's start (local).
    pub step: Duration,
}

/// Free slots in `[now + min_notice, now + horizon_days)`, sorted by start,
/// without duplicates. Non-positive `length` or `step` gives no slots rather
/// than an endless loop; the policy API is where such values are refused.
/// `horizon_days` bounds the work, so the policy API must cap it too.
pub fn free_slots(
    tz: Tz,
    hours: &[WeeklyHours],
    time_off: &[Interval],
    booked: &[Interval],
    rules: &SlotRules,
    now: DateTime<Utc>,
) -> Vec<Interval> {
    earliest_free_slots(tz, hours, time_off, booked, rules, now, usize::MAX)
}

/// The first `max` of [`free_slots`], generating only as many days as needed:
/// matching wants a handful of offers, not eight weeks of slots per physio.
pub fn earliest_free_slots(
    tz: Tz,
    hours: &[WeeklyHours],
    time_off: &[Interval],
    booked: &[Interval],
    rules: &SlotRules,
    now: DateTime<Utc>,
    max: usize,
) -> Vec<Interval> {
    let always = Interval {
        start: DateTime::<Utc>::MIN_UTC,
        end: DateTime::<Utc>::MAX_UTC,
    };
    earliest_free_slots_within(tz, hours, time_off, booked, rules, now, always, max)
}

/// [`earliest_free_slots`] whose starts also lie within `window`: booking
/// searches forward from now a window at a time, so it reads (and the caller
/// passes) only the diary that can hold those slots, never the whole horizon.
/// The result is exactly the part of the unwindowed result that starts within
/// `window`, so searching consecutive windows in order finds the same slots.
#[allow(clippy::too_many_arguments)] // each is one of the rule's inputs
pub fn earliest_free_slots_within(
    tz: Tz,
    hours: &[WeeklyHours],
    time_off: &[Interval],
    booked: &[Interval],
    rules: &SlotRules,
    now: DateTime<Utc>,
    window: Interval,
    max: usize,
) -> Vec<Interval> {
    if rules.length <= Duration::zero() || rules.step <= Duration::zero() {
        return Vec::new();
    }
    let (Some(earliest), Some(horizon)) = (
        now.checked_add_signed(rules.min_notice),
        now.checked_add_signed(Duration::days(i64::from(rules.horizon_days))),
    ) else {
        return Vec::new();
    };
    let (earliest, horizon) = (earliest.max(window.start), horizon.min(window.end));
    if earliest >= horizon {
        return Vec::new();
    }
    let busy = Busy::new(time_off, booked, rules.buffer);
    // Weekly hours never cross midnight, so no earlier local date holds a
    // start at or after `earliest`, and none later than the horizon's date.
    let first = earliest.with_timezone(&tz).date_naive();
    let last = horizon.with_timezone(&tz).date_naive();
    let days = u32::try_from((last - first).num_days()).unwrap_or(0);

    let mut slots = Vec::new();
    let mut starts = Vec::new();
    let dates = (0..=days).map_while(|n| first.checked_add_days(Days::new(n.into())));
    for date in dates {
        // A later local date's starts (first occurrences) all come after an
        // earlier date's, so once a whole date is done the first `max` are known.
        if slots.len() >= max {
            // Overlapping openings can repeat a start: count distinct ones.
            slots.sort_unstable();
            slots.dedup();
            if slots.len() >= max {
                break;
            }
        }
        for opening in hours.iter().filter(|h| h.weekday == date.weekday()) {
            let (local_start, local_end) =
                (date.and_time(opening.start), date.and_time(opening.end));
            let Some(close) = closing_instant(tz, local_end) else {
                continue;
            };
            grid_starts(tz, local_start, local_end, close, rules.step, &mut starts);
            for start in starts.drain(..) {
                let Some(end) = start.checked_add_signed(rules.length) else {
                    continue;
                };
                let slot = Interval { start, end };
                if end <= close && start >= earliest && start < horizon && !busy.overlaps(&slot) {
                    slots.push(slot);
                }
            }
        }
    }
    // Overlapping ranges or a repeated hour can produce starts out of order or twice.
    slots.sort_unstable();
    slots.dedup();
    slots.truncate(max);
    slots
}

/// The real instants of the wall-clock grid `local_start`, `+ step`, … before `local_end`.
fn grid_starts(
    tz: Tz,
    local_start: NaiveDateTime,
    local_end: NaiveDateTime,
    close: DateTime<Utc>,
    step: Duration,
    out: &mut Vec<DateTime<Utc>>,
) {
    // Almost every opening lies within one UTC offset; then real time runs
    // with the wall clock and the grid needs no zone look-up per start.
    let open = tz.from_local_datetime(&local_start).single();
    if let Some(open) = open.map(|t| t.with_timezone(&Utc))
        && close - open == local_end - local_start
    {
        let mut start = Some(open);
        while let Some(instant) = start.filter(|s| *s < close) {
            out.push(instant);
            start = instant.checked_add_signed(step);
        }
        return;
    }
    let mut local = Some(local_start);
    while let Some(wall) = local.filter(|l| *l < local_end) {
        out.extend(opening_instant(tz, wall));
        local = wall.checked_add_signed(step);
    }
}

/// A wall-clock start that never happens (the hour skipped when clocks go
/// forward) gives no slot; one that happens twice (the hour repeated when
/// clocks go back) counts once, at its first occurrence, so no slot is offered twice.
fn opening_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Closing time is read the way a clock on the clinic's wall shows it: a time
/// that happens twice closes at its later occurrence (the clinic is open
/// throughout the repeated hour), and a time that is skipped closes when the
/// clock jumps past it, i.e. at the instant the new offset begins.
fn closing_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(_, t) => Some(t.with_timezone(&Utc)),
        LocalResult::None => {
            // Gaps are whole minutes (at most a day, when a zone skipped a date);
            // the first wall-clock minute that exists again is the jump.
            let mut probe = local;
            for _ in 0..MAX_GAP_MINUTES {
                probe = probe.checked_add_signed(Duration::minutes(1))?;
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return Some(t.with_timezone(&Utc));
                }
            }
            None
        }
    }
}

const MAX_GAP_MINUTES: usize = 2 * 24 * 60;

/// Everything a slot must keep clear of, merged into disjoint intervals sorted
/// by start (and so also by end), so each check is a binary search.
struct Busy(Vec<Interval>);

impl Busy {
    fn new(time_off: &[Interval], booked: &[Interval], buffer: Duration) -> Self {
        // A negative buffer must never let a slot overlap the appointment itself.
        let buffer = buffer.max(Duration::zero());
        let padded = booked.iter().map(|b| Interval {
            start: b
                .start
                .checked_sub_signed(buffer)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            end: b
                .end
                .checked_add_signed(buffer)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        });
        let mut all: Vec<Interval> = time_off
            .iter()
            .copied()
            .chain(padded)
            .filter(|i| i.start < i.end)
            .collect();
        all.sort_unstable();
        let mut merged: Vec<Interval> = Vec::with_capacity(all.len());
        for next in all {
            match merged.last_mut() {
                Some(last) if next.start <= last.end => last.end = last.end.max(next.end),
                _ => merged.push(next),
            }
        }
        Busy(merged)
    }

    fn overlaps(&self, slot: &Interval) -> bool {
        let first_not_before = self.0.partition_point(|b| b.end <= slot.start);
        self.0
            .get(first_not_before)
            .is_some_and(|b| b.start < slot.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime, Offset, Timelike, Weekday};
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Sydney;
    use chrono_tz::Europe::London;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn open(weekday: Weekday, start: (u32, u32), end: (u32, u32)) -> WeeklyHours {
        WeeklyHours {
            weekday,
            start: at(start.0, start.1),
            end: at(end.0, end.1),
        }
    }

    fn rules(length: i64, step: i64, buffer: i64, notice: i64, horizon_days: u32) -> SlotRules {
        SlotRules {
            length: Duration::minutes(length),
            step: Duration::minutes(step),
            buffer: Duration::minutes(buffer),
            min_notice: Duration::minutes(notice),
            horizon_days,
        }
    }

    fn span(start: &str, end: &str) -> Interval {
        Interval {
            start: utc(start),
            end: utc(end),
        }
    }

    /// Offset from UTC in hours at an instant: lets each test check the
    /// transition dates against the zone database instead of trusting them.
    fn offset_hours(tz: Tz, instant: &str) -> i32 {
        tz.offset_from_utc_datetime(&utc(instant).naive_utc())
            .fix()
            .local_minus_utc()
            / 3600
    }

    fn local_times(tz: Tz, slots: &[Interval]) -> Vec<String> {
        slots
            .iter()
            .map(|s| {
                s.start
                    .with_timezone(&tz)
                    .format("%a %d %H:%M %Z")
                    .to_string()
            })
            .collect()
    }

    fn assert_strictly_increasing(slots: &[Interval]) {
        assert!(
            slots.windows(2).all(|w| w[0].start < w[1].start),
            "{slots:?}"
        );
    }

    // 2027-05-03 is a Monday; London is on BST (UTC+1).
    const MONDAY_MORNING: &str = "2027-05-03T06:00:00Z";

    #[test]
    fn basic_grid_on_every_monday_in_the_horizon() {
        let hours = [open(Weekday::Mon, (9, 0), (12, 0))];
        let slots = free_slots(
            London,
            &hours,
            &[],
            &[],
            &rules(30, 15, 0, 0, 14),
            utc(MONDAY_MORNING),
        );
        // 3 and 10 May; 17 May is a date in range but its slots start after now + 14 days.
        assert_eq!(slots.len(), 2 * 11);
        let first_day: Vec<_> = slots
            .iter()
            .take(11)
            .map(|s| s.start.with_timezone(&London).time())
            .collect();
        let expected: Vec<_> = (0..11)
            .map(|i| at(9, 0) + Duration::minutes(15 * i))
            .collect();
        assert_eq!(first_day, expected);
        assert!(
            slots
                .iter()
                .all(|s| s.end - s.start == Duration::minutes(30))
        );
        assert_eq!(slots[0].start, utc("2027-05-03T08:00:00Z"));
        assert_eq!(slots[21].start, utc("2027-05-10T10:30:00Z"));
        assert_strictly_increasing(&slots);
    }

    #[test]
    fn searching_window_by_window_finds_exactly_the_unwindowed_slots() {
        // Across the autumn DST change in London, with appointments and time
        // off, windows of uneven length, cut at awkward instants.
        let hours = [
            open(Weekday::Mon, (9, 0), (12, 0)),
            open(Weekday::Sat, (0, 30), (3, 0)),
            open(Weekday::Sun, (0, 30), (3, 0)),
        ];
        let now = utc("2027-10-25T07:10:00Z");
        let booked = [span("2027-10-25T09:00:00Z", "2027-10-25T09:45:00Z")];
        let away = [span("2027-11-01T09:30:00Z", "2027-11-01T10:30:00Z")];
        let rules = rules(45, 15, 10, 30, 21);
        let all = free_slots(London, &hours, &away, &booked, &rules, now);
        let cuts = [
            now,
            utc("2027-10-26T00:00:00Z"),
            utc("2027-10-31T01:20:00Z"),
            utc("2027-11-01T09:07:00Z"),
            utc("2027-11-05T23:59:00Z"),
            now + Duration::days(30),
        ];
        let windowed: Vec<Interval> = cuts
            .windows(2)
            .flat_map(|w| {
                let window = Interval {
                    start: w[0],
                    end: w[1],
                };
                earliest_free_slots_within(
                    London,
                    &hours,
                    &away,
                    &booked,
                    &rules,
                    now,
                    window,
                    usize::MAX,
                )
            })
            .collect();
        assert!(!all.is_empty());
        assert_eq!(windowed, all);
        // And the first few of a window are the first few of that window.
        let window = Interval {
            start: cuts[2],
            end: cuts[4],
        };
        let first_three =
            earliest_free_slots_within(London, &hours, &away, &booked, &rules, now, window, 3);
        let expected: Vec<Interval> = all
            .iter()
            .filter(|s| window.start <= s.start && s.start < window.end)
            .take(3)
            .copied()
            .collect();
        assert_eq!(first_three, expected);
    }

    #[test]
    fn min_notice_and_horizon_cut_both_ends() {
        let hours = [open(Weekday::Mon, (9, 0), (12, 0))];
        // now = 08:40 BST; 60 min notice → first start 09:45 BST.
        let now = utc("2027-05-03T07:40:00Z");
        // 7-day horizon ends next Monday 08:40 BST: none of its slots start before.
        let slots = free_slots(London, &hours, &[], &[], &rules(30, 15, 0, 60, 7), now);
        assert_eq!(slots.len(), 8);
        assert_eq!(slots[0].start, utc("2027-05-03T08:45:00Z"));
        // A slot starting exactly at now + notice is allowed; at the horizon it is not.
        let slots = free_slots(London, &hours, &[], &[], &rules(30, 15, 0, 65, 7), now);
        assert_eq!(slots[0].start, utc("2027-05-03T08:45:00Z"));
        let just_in = utc("2027-05-10T08:15:00Z") - Duration::days(7) - Duration::seconds(1);
        let later = free_slots(London, &hours, &[], &[], &rules(30, 15, 0, 0, 7), just_in);
        assert_eq!(
            later.last().map(|s| s.start),
            Some(utc("2027-05-10T08:00:00Z"))
        );
    }

    #[test]
    fn slots_keep_the_buffer_from_bookings() {
        let hours = [open(Weekday::Mon, (9, 0), (12, 0))];
        let booked = [span("2027-05-03T09:00:00Z", "2027-05-03T09:30:00Z")]; // 10:00–10:30 BST
        let slots = free_slots(
            London,
            &hours,
            &[],
            &booked,
            &rules(30, 15, 15, 0, 1),
            utc(MONDAY_MORNING),
        );
        let keep_clear = span("2027-05-03T08:45:00Z", "2027-05-03T09:45:00Z");
        assert!(slots.iter().all(|s| !s.overlaps(&keep_clear)));
        let times = local_times(London, &slots);
        // 09:15 ends 09:45 (touches the buffer), 10:45 starts where it ends.
        assert!(times.contains(&"Mon 03 09:15 BST".to_string()), "{times:?}");
        assert!(times.contains(&"Mon 03 10:45 BST".to_string()), "{times:?}");
        assert!(!times.contains(&"Mon 03 09:30 BST".to_string()));
        assert!(!times.contains(&"Mon 03 10:30 BST".to_string()));
        assert_eq!(slots.len(), 11 - 5);
    }

    #[test]
    fn time_off_removes_slots() {
        let hours = [open(Weekday::Mon, (9, 0), (12, 0))];
        let off = [
            span("2027-05-03T00:00:00Z", "2027-05-04T00:00:00Z"),
            span("2027-05-10T09:50:00Z", "2027-05-10T10:00:00Z"),
        ];
        let slots = free_slots(
            London,
            &hours,
            &off,
            &[],
            &rules(30, 15, 0, 0, 8),
            utc(MONDAY_MORNING),
        );
        // Nothing on 3 May; on 10 May only 10:30 and 10:45 BST overlap 10:50–11:00.
        assert!(slots.iter().all(|s| s.start > utc("2027-05-04T00:00:00Z")));
        assert_eq!(slots.len(), 11 - 2, "{:?}", local_times(London, &slots));
    }

    #[test]
    fn overlapping_busy_intervals_are_merged_before_searching() {
        let busy = Busy::new(
            &[span("2027-05-03T10:00:00Z", "2027-05-03T11:00:00Z")],
            &[
                span("2027-05-03T08:00:00Z", "2027-05-03T12:00:00Z"),
                span("2027-05-03T12:30:00Z", "2027-05-03T13:00:00Z"),
            ],
            Duration::minutes(-5),
        );
        assert_eq!(busy.0.len(), 2);
        assert!(busy.overlaps(&span("2027-05-03T11:30:00Z", "2027-05-03T11:45:00Z")));
        assert!(!busy.overlaps(&span("2027-05-03T12:00:00Z", "2027-05-03T12:30:00Z")));
        assert!(busy.overlaps(&span("2027-05-03T12:59:00Z", "2027-05-03T13:30:00Z")));
    }

    #[test]
    fn nonsense_rules_give_nothing_instead_of_looping() {
        let hours = [open(Weekday::Mon, (9, 0), (12, 0))];
        let now = utc(MONDAY_MORNING);
        assert!(free_slots(London, &hours, &[], &[], &rules(30, 0, 0, 0, 7), now).is_empty());
        assert!(free_slots(London, &hours, &[], &[], &rules(0, 15, 0, 0, 7), now).is_empty());
    }

    #[test]
    fn earliest_free_slots_is_a_prefix_of_free_slots() {
        let hours = [
            open(Weekday::Sun, (0, 0), (4, 0)),
            open(Weekday::Sun, (3, 0), (5, 0)),
            open(Weekday::Mon, (9, 0), (12, 0)),
        ];
        let r = rules(30, 15, 0, 0, 10);
        let now = utc("2027-10-28T00:00:00Z");
        let all = free_slots(London, &hours, &[], &[], &r, now);
        assert_strictly_increasing(&all);
        for max in [0, 1, 7, 20, 21, 40, all.len(), all.len() + 5] {
            let first = earliest_free_slots(London, &hours, &[], &[], &r, now, max);
            assert_eq!(first, all[..max.min(all.len())], "max {max}");
        }
    }

    #[test]
    fn london_spring_forward() {
        assert_eq!(offset_hours(London, "2027-03-28T00:59:59Z"), 0);
        assert_eq!(offset_hours(London, "2027-03-28T01:00:00Z"), 1);
        let hours = [
            open(Weekday::Sun, (0, 0), (4, 0)),
            open(Weekday::Fri, (9, 0), (9, 30)),
            open(Weekday::Mon, (9, 0), (9, 30)),
        ];
        let slots = free_slots(
            London,
            &hours,
            &[],
            &[],
            &rules(30, 30, 0, 0, 4),
            utc("2027-03-26T00:00:00Z"),
        );
        assert_eq!(
            local_times(London, &slots),
            [
                "Fri 26 09:00 GMT",
                "Sun 28 00:00 GMT",
                "Sun 28 00:30 GMT",
                "Sun 28 02:00 BST",
                "Sun 28 02:30 BST",
                "Sun 28 03:00 BST",
                "Sun 28 03:30 BST",
                "Mon 29 09:00 BST",
            ]
        );
        assert_eq!(slots[0].start, utc("2027-03-26T09:00:00Z"));
        assert_eq!(slots[3].start, utc("2027-03-28T01:00:00Z"));
        assert_eq!(slots[7].start, utc("2027-03-29T08:00:00Z"));
        assert_strictly_increasing(&slots);
    }

    #[test]
    fn closing_time_in_the_skipped_hour_is_the_jump() {
        let local = NaiveDate::from_ymd_opt(2027, 3, 28)
            .unwrap()
            .and_time(at(1, 30));
        assert_eq!(
            closing_instant(London, local),
            Some(utc("2027-03-28T01:00:00Z"))
        );
        // Open 00:00–01:30 that night: slots up to the jump, none after.
        let hours = [open(Weekday::Sun, (0, 0), (1, 30))];
        let slots = free_slots(
            London,
            &hours,
            &[],
            &[],
            &rules(30, 30, 0, 0, 3),
            utc("2027-03-26T00:00:00Z"),
        );
        assert_eq!(
            local_times(London, &slots),
            ["Sun 28 00:00 GMT", "Sun 28 00:30 GMT"]
        );
    }

    #[test]
    fn london_fall_back() {
        assert_eq!(offset_hours(London, "2027-10-31T00:59:59Z"), 1);
        assert_eq!(offset_hours(London, "2027-10-31T01:00:00Z"), 0);
        let hours = [open(Weekday::Sun, (0, 0), (4, 0))];
        let slots = free_slots(
            London,
            &hours,
            &[],
            &[],
            &rules(30, 30, 0, 0, 3),
            utc("2027-10-29T00:00:00Z"),
        );
        assert_eq!(
            local_times(London, &slots),
            [
                "Sun 31 00:00 BST",
                "Sun 31 00:30 BST",
                "Sun 31 01:00 BST",
                "Sun 31 01:30 BST",
                "Sun 31 02:00 GMT",
                "Sun 31 02:30 GMT",
                "Sun 31 03:00 GMT",
                "Sun 31 03:30 GMT",
            ]
        );
        assert_strictly_increasing(&slots);
        // A closing time in the repeated hour is its later occurrence.
        let local = NaiveDate::from_ymd_opt(2027, 10, 31)
            .unwrap()
            .and_time(at(1, 30));
        assert_eq!(
            closing_instant(London, local),
            Some(utc("2027-10-31T01:30:00Z"))
        );
    }

    #[test]
    fn new_york_both_changes() {
        assert_eq!(offset_hours(New_York, "2027-03-14T06:59:59Z"), -5);
        assert_eq!(offset_hours(New_York, "2027-03-14T07:00:00Z"), -4);
        assert_eq!(offset_hours(New_York, "2027-11-07T05:59:59Z"), -4);
        assert_eq!(offset_hours(New_York, "2027-11-07T06:00:00Z"), -5);
        let hours = [
            open(Weekday::Sun, (0, 0), (5, 0)),
            open(Weekday::Fri, (9, 0), (9, 30)),
            open(Weekday::Mon, (9, 0), (9, 30)),
        ];
        let r = rules(30, 30, 0, 0, 4);

        let spring = free_slots(New_York, &hours, &[], &[], &r, utc("2027-03-12T00:00:00Z"));
        let local: Vec<_> = spring
            .iter()
            .map(|s| s.start.with_timezone(&New_York))
            .collect();
        assert!(local.iter().all(|t| t.hour() != 2), "{local:?}");
        assert_eq!(
            spring.len(),
            1 + 8 + 1,
            "Sunday has 10 half-hours minus the 2 skipped"
        );
        assert_eq!(spring[0].start, utc("2027-03-12T14:00:00Z"), "09:00 EST");
        assert_eq!(spring[9].start, utc("2027-03-15T13:00:00Z"), "09:00 EDT");
        assert_strictly_increasing(&spring);

        let fall = free_slots(New_York, &hours, &[], &[], &r, utc("2027-11-05T00:00:00Z"));
        assert_eq!(fall.len(), 1 + 10 + 1);
        assert_eq!(fall[0].start, utc("2027-11-05T13:00:00Z"), "09:00 EDT");
        assert_eq!(fall[11].start, utc("2027-11-08T14:00:00Z"), "09:00 EST");
        let one_am: Vec<_> = local_times(New_York, &fall)
            .into_iter()
            .filter(|t| t.contains(" 01:"))
            .collect();
        assert_eq!(one_am, ["Sun 07 01:00 EDT", "Sun 07 01:30 EDT"]);
        assert_strictly_increasing(&fall);
    }

    #[test]
    fn sydney_both_changes() {
        assert_eq!(offset_hours(Sydney, "2027-04-03T15:59:59Z"), 11);
        assert_eq!(offset_hours(Sydney, "2027-04-03T16:00:00Z"), 10);
        assert_eq!(offset_hours(Sydney, "2027-10-02T15:59:59Z"), 10);
        assert_eq!(offset_hours(Sydney, "2027-10-02T16:00:00Z"), 11);
        let hours = [
            open(Weekday::Sun, (0, 0), (5, 0)),
            open(Weekday::Fri, (9, 0), (9, 30)),
            open(Weekday::Mon, (9, 0), (9, 30)),
        ];
        let r = rules(30, 30, 0, 0, 4);

        // DST ends: 02:xx happens twice, each start is offered once.
        let autumn = free_slots(Sydney, &hours, &[], &[], &r, utc("2027-04-01T00:00:00Z"));
        assert_eq!(autumn.len(), 1 + 10 + 1);
        assert_eq!(
            autumn[0].start,
            utc("2027-04-01T22:00:00Z"),
            "Fri 09:00 AEDT"
        );
        assert_eq!(
            autumn[11].start,
            utc("2027-04-04T23:00:00Z"),
            "Mon 09:00 AEST"
        );
        let two_am: Vec<_> = local_times(Sydney, &autumn)
            .into_iter()
            .filter(|t| t.contains(" 02:"))
            .collect();
        assert_eq!(two_am, ["Sun 04 02:00 AEDT", "Sun 04 02:30 AEDT"]);
        assert_strictly_increasing(&autumn);

        // DST starts: 02:xx never happens.
        let spring = free_slots(Sydney, &hours, &[], &[], &r, utc("2027-09-30T00:00:00Z"));
        let local: Vec<_> = spring
            .iter()
            .map(|s| s.start.with_timezone(&Sydney))
            .collect();
        assert!(local.iter().all(|t| t.hour() != 2), "{local:?}");
        assert_eq!(spring.len(), 1 + 8 + 1);
        assert_eq!(
            spring[0].start,
            utc("2027-09-30T23:00:00Z"),
            "Fri 09:00 AEST"
        );
        assert_eq!(
            spring[9].start,
            utc("2027-10-03T22:00:00Z"),
            "Mon 09:00 AEDT"
        );
    }
}
