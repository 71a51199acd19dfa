//! Weekly opening hours: local wall-clock ranges in the clinic's zone, so that
//! "Monday 09:00" stays 09:00 on the clinic's clock whether or not DST is in force.

use chrono::{NaiveTime, Weekday};

/// A physio's week rarely needs more; the cap keeps a hostile request from
/// making the overlap check and slot generation expensive.
pub const MAX_RANGES: usize = 50;

/// One opening range, `start` inclusive, `end` exclusive, on the clinic's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyHours {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A range as the API receives it: `weekday` 1 = Monday … 7 = Sunday, times "HH:MM".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursInput {
    pub weekday: i64,
    pub start: String,
    pub end: String,
}

/// A validation problem on one field, as the API's `errors: [{field, message}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Validates a whole week at once and reports every problem, so an admin fixes
/// the form in one round trip. The result is sorted by weekday, then start.
pub fn parse_weekly_hours(input: &[HoursInput]) -> Result<Vec<WeeklyHours>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    if input.len() > MAX_RANGES {
        problems.push(FieldProblem::new(
            "hours",
            format!("at most {MAX_RANGES} ranges, got {}", input.len()),
        ));
    }

    let mut valid = Vec::new();
    for (i, item) in input.iter().enumerate() {
        let weekday = weekday_from_number(item.weekday);
        if weekday.is_none() {
            problems.push(FieldProblem::new(
                format!("hours[{i}].weekday"),
                "must be 1 (Monday) to 7 (Sunday)",
            ));
        }
        let start = parse_hhmm(&item.start);
        let end = parse_hhmm(&item.end);
        for (name, text, parsed) in [("start", &item.start, start), ("end", &item.end, end)] {
            if parsed.is_none() {
                problems.push(FieldProblem::new(
                    format!("hours[{i}].{name}"),
                    format!("must be a time \"HH:MM\" from 00:00 to 23:59, got \"{text}\""),
                ));
            }
        }
        if let (Some(start), Some(end)) = (start, end) {
            // No overnight ranges: a clinic open past midnight enters two ranges,
            // so each range belongs to exactly one local date.
            if start >= end {
                problems.push(FieldProblem::new(
                    format!("hours[{i}].end"),
                    format!("must be after start ({})", item.start),
                ));
            } else if let Some(weekday) = weekday {
                valid.push((
                    i,
                    WeeklyHours {
                        weekday,
                        start,
                        end,
                    },
                ));
            }
        }
    }

    // Equal starts keep input order, so the later entry is the one blamed.
    valid.sort_by_key(|(i, h)| (h.weekday.num_days_from_monday(), h.start, *i));
    // Sweep each day, remembering the range that reaches furthest so far: a
    // range overlaps an earlier one exactly when it starts before that reach.
    let mut reach: Option<(usize, WeeklyHours)> = None;
    for &(i, hours) in &valid {
        let same_day = reach.filter(|(_, r)| r.weekday == hours.weekday);
        if let Some((j, r)) = same_day
            && hours.start < r.end
        {
            problems.push(FieldProblem::new(
                format!("hours[{i}].start"),
                format!(
                    "overlaps hours[{j}] ({}–{})",
                    r.start.format("%H:%M"),
                    r.end.format("%H:%M")
                ),
            ));
        }
        if same_day.is_none_or(|(_, r)| hours.end > r.end) {
            reach = Some((i, hours));
        }
    }

    if problems.is_empty() {
        Ok(valid.into_iter().map(|(_, h)| h).collect())
    } else {
        Err(problems)
    }
}

/// ISO numbering, as the API speaks it.
fn weekday_from_number(n: i64) -> Option<Weekday> {
    match n {
        1 => Some(Weekday::Mon),
        2 => Some(Weekday::Tue),
        3 => Some(Weekday::Wed),
        4 => Some(Weekday::Thu),
        5 => Some(Weekday::Fri),
        6 => Some(Weekday::Sat),
        7 => Some(Weekday::Sun),
        _ => None,
    }
}

/// Strictly "HH:MM", 00:00–23:59. "24:00" is refused on purpose: a clinic open
/// until midnight writes 23:59, and one lost minute is cheaper than a second
/// spelling of midnight that every consumer of the hours must understand.
fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let digit = |i: usize| {
        bytes[i]
            .is_ascii_digit()
            .then(|| u32::from(bytes[i] - b'0'))
    };
    let hour = digit(0)? * 10 + digit(1)?;
    let minute = digit(3)? * 10 + digit(4)?;
    NaiveTime::from_hms_opt(hour, minute, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(weekday: i64, start: &str, end: &str) -> HoursInput {
        HoursInput {
            weekday,
            start: start.into(),
            end: end.into(),
        }
    }

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn fields(problems: &[FieldProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn valid_week_is_sorted_and_touching_ranges_are_fine() {
        let hours = parse_weekly_hours(&[
            input(7, "10:00", "12:00"),
            input(1, "12:00", "17:00"),
            input(1, "09:00", "12:00"),
            input(3, "00:00", "23:59"),
        ])
        .unwrap();
        let got: Vec<_> = hours.iter().map(|h| (h.weekday, h.start, h.end)).collect();
        assert_eq!(
            got,
            vec![
                (Weekday::Mon, time("09:00"), time("12:00")),
                (Weekday::Mon, time("12:00"), time("17:00")),
                (Weekday::Wed, time("00:00"), time("23:59")),
                (Weekday::Sun, time("10:00"), time("12:00")),
            ]
        );
    }

    #[test]
    fn empty_week_is_valid() {
        assert_eq!(parse_weekly_hours(&[]), Ok(vec![]));
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let problems = parse_weekly_hours(&[
            input(0, "9:00", "12:00"),
            input(8, "09:00", "24:00"),
            input(2, "12:00", "09:00"),
            input(2, "10:00", "10:00"),
            input(3, "09:60", "ab:cd"),
        ])
        .unwrap_err();
        assert_eq!(
            fields(&problems),
            vec![
                "hours[0].weekday",
                "hours[0].start",
                "hours[1].weekday",
                "hours[1].end",
                "hours[2].end",
                "hours[3].end",
                "hours[4].start",
                "hours[4].end",
            ]
        );
    }

    #[test]
    fn time_format_is_strict() {
        for bad in [
            "9:00", "09:0", "0900", "09.00", " 09:00", "09:00 ", "+9:00", "24:00", "23:60", "",
        ] {
            assert_eq!(parse_hhmm(bad), None, "{bad:?}");
        }
        assert_eq!(parse_hhmm("00:00"), Some(time("00:00")));
        assert_eq!(parse_hhmm("23:59"), Some(time("23:59")));
    }

    #[test]
    fn overlap_blames_the_later_range_and_names_the_other() {
        let problems = parse_weekly_hours(&[
            input(1, "13:00", "17:00"),
            input(1, "09:00", "14:00"),
            input(2, "09:00", "14:00"),
        ])
        .unwrap_err();
        assert_eq!(
            problems,
            vec![FieldProblem::new(
                "hours[0].start",
                "overlaps hours[1] (09:00–14:00)"
            )]
        );
    }

    #[test]
    fn overlap_with_a_long_range_is_found_past_a_short_one() {
        // 09–17 contains 10–11; 12–13 overlaps 09–17 though not its neighbour 10–11.
        let problems = parse_weekly_hours(&[
            input(5, "09:00", "17:00"),
            input(5, "10:00", "11:00"),
            input(5, "12:00", "13:00"),
        ])
        .unwrap_err();
        assert_eq!(fields(&problems), vec!["hours[1].start", "hours[2].start"]);
        assert!(problems.iter().all(|p| p.message.contains("hours[0]")));
    }

    #[test]
    fn identical_ranges_blame_the_later_entry() {
        let problems =
            parse_weekly_hours(&[input(4, "09:00", "10:00"), input(4, "09:00", "10:00")])
                .unwrap_err();
        assert_eq!(fields(&problems), vec!["hours[1].start"]);
    }

    #[test]
    fn too_many_ranges() {
        let many: Vec<_> = (0..51)
            .map(|i| {
                input(
                    1 + i % 7,
                    &format!("{:02}:00", i / 7),
                    &format!("{:02}:30", i / 7),
                )
            })
            .collect();
        assert_eq!(
            fields(&parse_weekly_hours(&many).unwrap_err()),
            vec!["hours"]
        );
        assert_eq!(parse_weekly_hours(&many[..50]).unwrap().len(), 50);
    }
}
