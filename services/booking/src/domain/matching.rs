//! Choosing a physio and a slot for a referral (docs/architecture.md,
//! "Booking rules"): the earliest free start among suitable physios; ties go
//! to the physio with the lighter day.

use super::geo::{Location, distance_km};
use super::hours::WeeklyHours;
use super::slots::{Interval, SlotRules, earliest_free_slots_within};
use super::specialty::Specialty;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
pub use spotter_platform::vocabulary::{BodyRegion, Priority};
use std::collections::HashMap;
use uuid::Uuid;

/// The specialty that takes any body region, as physios' rows spell it.
pub const GENERAL: &str = Specialty::General.as_str();

#[derive(Debug, Clone)]
pub struct ClinicFacts {
    pub id: Uuid,
    pub tz: Tz,
    pub location: Location,
    pub service_radius_km: f64,
    pub accepts_referrals: bool,
    pub rules: SlotRules,
}

#[derive(Debug, Clone)]
pub struct PhysioFacts {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub active: bool,
    pub specialties: Vec<String>,
    pub hours: Vec<WeeklyHours>,
    pub time_off: Vec<Interval>,
    /// Active appointments: they block slots and count towards a busy day.
    pub booked: Vec<Interval>,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub body_region: BodyRegion,
    pub trainer_location: Location,
    /// Emergencies are never booked: red flags mean urgent medical care, not physio.
    pub priority: Priority,
    /// When the client should have been seen by, as triage set it (the
    /// referral service owns the priorities' windows); a later slot is still
    /// offered, flagged.
    pub target_by: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub physio_id: Uuid,
    pub clinic_id: Uuid,
    pub slot: Interval,
    /// Booked anyway, but later than the priority's target: the referral is
    /// marked `sla_breached` and the clinic's admins are told.
    pub target_missed: bool,
    /// The clinic's buffer, kept free after the slot (the database holds it).
    pub buffer: chrono::Duration,
}

/// Active physios treating the region (or `general`), at clinics taking
/// referrals whose radius reaches the trainer, in the order `physios` lists them.
pub fn candidates<'a>(
    request: &Request,
    clinics: &'a [ClinicFacts],
    physios: &'a [PhysioFacts],
) -> Vec<(&'a ClinicFacts, &'a PhysioFacts)> {
    let reachable: HashMap<Uuid, &ClinicFacts> = clinics
        .iter()
        .filter(|c| {
            c.accepts_referrals
                && distance_km(c.location, request.trainer_location) <= c.service_radius_km
        })
        .map(|c| (c.id, c))
        .collect();
    physios
        .iter()
        .filter(|p| p.active && treats(p, request.body_region))
        .filter_map(|p| reachable.get(&p.clinic_id).map(|&c| (c, p)))
        .collect()
}

fn treats(physio: &PhysioFacts, body_region: BodyRegion) -> bool {
    physio
        .specialties
        .iter()
        .any(|s| s == body_region.as_str() || s == GENERAL)
}

/// Up to `limit` offers, best first. The service tries them in order: the
/// database's exclusion constraint may refuse one that someone took
/// meanwhile, and then the next is as good a choice as any.
pub fn ranked_offers(
    request: &Request,
    clinics: &[ClinicFacts],
    physios: &[PhysioFacts],
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<Offer> {
    let always = Interval {
        start: DateTime::<Utc>::MIN_UTC,
        end: DateTime::<Utc>::MAX_UTC,
    };
    ranked_offers_within(request, clinics, physios, now, always, limit)
}

/// [`ranked_offers`] starting within `window`. Every offer of an earlier
/// window ranks before every offer of a later one (earliest start first), so
/// the best offers overall are those of the first window that has any.
pub fn ranked_offers_within(
    request: &Request,
    clinics: &[ClinicFacts],
    physios: &[PhysioFacts],
    now: DateTime<Utc>,
    window: Interval,
    limit: usize,
) -> Vec<Offer> {
    if request.priority == Priority::Emergency {
        return Vec::new();
    }
    let target = request.target_by;

    let mut ranked: Vec<(Rank, Offer)> = Vec::new();
    for (clinic, physio) in candidates(request, clinics, physios) {
        let mut load = DayLoad::new(clinic.tz, &physio.booked);
        // Each physio's slots come in rank order, so only their first `limit` can make the cut.
        let slots = earliest_free_slots_within(
            clinic.tz,
            &physio.hours,
            &physio.time_off,
            &physio.booked,
            &clinic.rules,
            now,
            window,
            limit,
        );
        for slot in slots {
            let offer = Offer {
                physio_id: physio.id,
                clinic_id: clinic.id,
                slot,
                target_missed: target.is_some_and(|t| slot.start > t),
                buffer: clinic.rules.buffer,
            };
            ranked.push(((slot.start, load.on_day_of(slot.start), physio.id), offer));
        }
    }
    if limit < ranked.len() {
        ranked.select_nth_unstable_by_key(limit, |(key, _)| *key);
        ranked.truncate(limit);
    }
    ranked.sort_unstable_by_key(|(key, _)| *key);
    ranked.into_iter().map(|(_, offer)| offer).collect()
}

/// (start, appointments that local day, physio id): earliest first, then the
/// lighter day, then a fixed order so that a replayed request chooses alike.
type Rank = (DateTime<Utc>, usize, Uuid);

/// How far from an instant its local day can reach, either way: a day
/// lasts 25 h when the clocks go back, and an hour more is spare. The diary
/// read for a window reaches this far beyond it, so the day-load tie-break
/// sees every appointment of each day an offer falls on
/// (`engine::diaries`).
pub const LOCAL_DAY_REACH: Duration = Duration::hours(26);

/// A physio's appointments per local day, counted only for the days offers
/// fall on. "That day" is the clinic's day: workload is felt in local dates.
struct DayLoad<'a> {
    tz: Tz,
    booked: &'a [Interval],
    counted: HashMap<NaiveDate, usize>,
}

impl<'a> DayLoad<'a> {
    fn new(tz: Tz, booked: &'a [Interval]) -> Self {
        Self {
            tz,
            booked,
            counted: HashMap::new(),
        }
    }

    fn on_day_of(&mut self, instant: DateTime<Utc>) -> usize {
        let Self {
            tz,
            booked,
            counted,
        } = self;
        let day = instant.with_timezone(tz).date_naive();
        *counted.entry(day).or_insert_with(|| {
            // An appointment further away than a local day can last is on
            // another day and needs no zone look-up.
            let reach = LOCAL_DAY_REACH;
            let from = instant
                .checked_sub_signed(reach)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let to = instant
                .checked_add_signed(reach)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            booked
                .iter()
                .filter(|b| from < b.start && b.start < to)
                .filter(|b| b.start.with_timezone(tz).date_naive() == day)
                .count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Sydney;
    use chrono_tz::Europe::London;

    const TRAINER: Location = Location {
        lat: 51.5074,
        lon: -0.1278,
    }; // central London
    // Monday 7 June 2027, 07:00 BST.
    const NOW: &str = "2027-06-07T06:00:00Z";

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn rules() -> SlotRules {
        SlotRules {
            length: Duration::minutes(45),
            buffer: Duration::minutes(15),
            min_notice: Duration::hours(1),
            horizon_days: 14,
            step: Duration::minutes(15),
        }
    }

    fn clinic(n: u128, tz: Tz, location: Location, radius: f64) -> ClinicFacts {
        ClinicFacts {
            id: id(n),
            tz,
            location,
            service_radius_km: radius,
            accepts_referrals: true,
            rules: rules(),
        }
    }

    fn london_clinic(n: u128) -> ClinicFacts {
        clinic(
            n,
            London,
            Location {
                lat: 51.52,
                lon: -0.10,
            },
            10.0,
        )
    }

    fn physio(
        n: u128,
        clinic: &ClinicFacts,
        specialties: &[&str],
        days: &[Weekday],
        from: (u32, u32),
    ) -> PhysioFacts {
        let start = NaiveTime::from_hms_opt(from.0, from.1, 0).unwrap();
        PhysioFacts {
            id: id(n),
            clinic_id: clinic.id,
            active: true,
            specialties: specialties.iter().map(|s| s.to_string()).collect(),
            hours: days
                .iter()
                .map(|&weekday| WeeklyHours {
                    weekday,
                    start,
                    end: start + Duration::hours(3),
                })
                .collect(),
            time_off: vec![],
            booked: vec![],
        }
    }

    fn request(priority: Priority) -> Request {
        Request {
            body_region: BodyRegion::Knee,
            trainer_location: TRAINER,
            priority,
            // As the referral service's triage sets it.
            target_by: match priority {
                Priority::Emergency => None,
                Priority::Urgent => Some(utc(NOW) + Duration::hours(48)),
                Priority::Routine => Some(utc(NOW) + Duration::days(7)),
            },
        }
    }

    fn candidate_ids(
        request: &Request,
        clinics: &[ClinicFacts],
        physios: &[PhysioFacts],
    ) -> Vec<Uuid> {
        candidates(request, clinics, physios)
            .iter()
            .map(|(_, p)| p.id)
            .collect()
    }

    const WEEKDAYS: [Weekday; 5] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];

    #[test]
    fn specialty_must_match_or_be_general() {
        let c = london_clinic(1);
        let physios = [
            physio(10, &c, &["shoulder"], &WEEKDAYS, (9, 0)),
            physio(11, &c, &["shoulder", "knee"], &WEEKDAYS, (9, 0)),
            physio(12, &c, &["general"], &WEEKDAYS, (9, 0)),
            physio(13, &c, &["Knee"], &WEEKDAYS, (9, 0)),
        ];
        let clinics = [c];
        assert_eq!(
            candidate_ids(&request(Priority::Routine), &clinics, &physios),
            [id(11), id(12)]
        );
        let shoulder = Request {
            body_region: BodyRegion::Shoulder,
            ..request(Priority::Routine)
        };
        assert_eq!(
            candidate_ids(&shoulder, &clinics, &physios),
            [id(10), id(11), id(12)]
        );
    }

    #[test]
    fn radius_must_reach_the_trainer_boundary_included() {
        let mut c = london_clinic(1);
        let distance = distance_km(c.location, TRAINER);
        assert!(distance > 1.0 && distance < 3.0, "{distance}");
        let physios = [physio(10, &c, &["knee"], &WEEKDAYS, (9, 0))];
        for (radius, expected) in [(distance + 0.5, 1), (distance, 1), (distance - 0.001, 0)] {
            c.service_radius_km = radius;
            let found = candidates(
                &request(Priority::Routine),
                std::slice::from_ref(&c),
                &physios,
            );
            assert_eq!(found.len(), expected, "radius {radius}");
        }
    }

    #[test]
    fn clinic_not_accepting_and_inactive_physio_are_left_out() {
        let open = london_clinic(1);
        let mut closed = london_clinic(2);
        closed.accepts_referrals = false;
        let mut inactive = physio(12, &open, &["knee"], &WEEKDAYS, (9, 0));
        inactive.active = false;
        let mut orphan = physio(13, &open, &["knee"], &WEEKDAYS, (9, 0));
        orphan.clinic_id = id(99);
        let physios = [
            physio(10, &open, &["knee"], &WEEKDAYS, (9, 0)),
            physio(11, &closed, &["knee"], &WEEKDAYS, (9, 0)),
            inactive,
            orphan,
        ];
        assert_eq!(
            candidate_ids(&request(Priority::Routine), &[open, closed], &physios),
            [id(10)]
        );
    }

    #[test]
    fn earliest_real_start_wins_across_zones() {
        // Naively "07:00" < "09:00", but 07:00 EDT is 11:00 UTC and 09:00 BST is 08:00 UTC.
        let london = london_clinic(1);
        let new_york = clinic(
            2,
            New_York,
            Location {
                lat: 40.71,
                lon: -74.01,
            },
            6000.0,
        );
        let physios = [
            physio(20, &new_york, &["knee"], &[Weekday::Tue], (7, 0)),
            physio(10, &london, &["knee"], &[Weekday::Tue], (9, 0)),
        ];
        let offers = ranked_offers(
            &request(Priority::Urgent),
            &[london, new_york],
            &physios,
            utc(NOW),
            100,
        );
        assert_eq!(offers[0].physio_id, id(10));
        assert_eq!(offers[0].clinic_id, id(1));
        assert_eq!(offers[0].slot.start, utc("2027-06-08T08:00:00Z"));
        assert!(
            offers
                .windows(2)
                .all(|w| w[0].slot.start <= w[1].slot.start)
        );
        let first_new_york = offers.iter().find(|o| o.physio_id == id(20)).unwrap();
        assert_eq!(first_new_york.slot.start, utc("2027-06-08T11:00:00Z"));
        assert!(!offers[0].target_missed);
    }

    #[test]
    fn tie_goes_to_the_lighter_local_day() {
        // Sydney, so the clinic's day and the UTC day differ: 09:00 AEST Tuesday
        // is 23:00 UTC Monday, and 15:00 AEST Tuesday is 05:00 UTC Tuesday.
        let c = clinic(1, Sydney, TRAINER, 10.0);
        let mut busy = physio(10, &c, &["knee"], &[Weekday::Tue], (9, 0));
        busy.hours.push(WeeklyHours {
            weekday: Weekday::Tue,
            start: NaiveTime::from_hms_opt(15, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(16, 0, 0).unwrap(),
        });
        busy.booked.push(Interval {
            start: utc("2027-06-08T05:00:00Z"),
            end: utc("2027-06-08T06:00:00Z"),
        });
        let light = physio(11, &c, &["knee"], &[Weekday::Tue], (9, 0));
        let offers = ranked_offers(
            &request(Priority::Routine),
            &[c],
            &[busy, light],
            utc(NOW),
            2,
        );
        let picked: Vec<_> = offers.iter().map(|o| (o.physio_id, o.slot.start)).collect();
        let start = utc("2027-06-07T23:00:00Z");
        assert_eq!(picked, [(id(11), start), (id(10), start)]);
    }

    #[test]
    fn equal_days_tie_break_on_physio_id() {
        let c = london_clinic(1);
        let physios = [
            physio(11, &c, &["knee"], &[Weekday::Tue], (9, 0)),
            physio(10, &c, &["knee"], &[Weekday::Tue], (9, 0)),
        ];
        let offers = ranked_offers(&request(Priority::Routine), &[c], &physios, utc(NOW), 3);
        let picked: Vec<_> = offers.iter().map(|o| o.physio_id).collect();
        assert_eq!(picked, [id(10), id(11), id(10)]);
    }

    #[test]
    fn min_notice_and_horizon_are_the_clinics() {
        let mut c = london_clinic(1);
        // Monday, and Tuesday up to 09:01 BST, are too soon.
        c.rules.min_notice = Duration::hours(26) + Duration::minutes(1);
        c.rules.horizon_days = 3;
        let physios = [physio(
            10,
            &c,
            &["knee"],
            &[Weekday::Mon, Weekday::Tue, Weekday::Thu],
            (9, 0),
        )];
        let offers = ranked_offers(
            &request(Priority::Routine),
            std::slice::from_ref(&c),
            &physios,
            utc(NOW),
            100,
        );
        assert_eq!(
            offers[0].slot.start,
            utc("2027-06-08T08:15:00Z"),
            "Tue 09:15 BST"
        );
        assert!(
            offers
                .iter()
                .all(|o| o.slot.start < utc("2027-06-10T06:00:00Z")),
            "Thursday is past the horizon"
        );
        assert_eq!(offers.len(), 9, "Tuesday 09:15 to 11:15");
    }

    #[test]
    fn routine_seen_after_seven_days_is_still_offered_but_flagged() {
        let c = london_clinic(1);
        let mut p = physio(10, &c, &["knee"], &[Weekday::Tue], (9, 0));
        // Off all of Tuesday 8 June: the next Tuesday is 8 days away.
        p.time_off.push(Interval {
            start: utc("2027-06-07T23:00:00Z"),
            end: utc("2027-06-08T23:00:00Z"),
        });
        let offers = ranked_offers(&request(Priority::Routine), &[c], &[p], utc(NOW), 1);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].slot.start, utc("2027-06-15T08:00:00Z"));
        assert!(offers[0].target_missed);
    }

    #[test]
    fn urgent_within_48_hours_is_not_flagged() {
        let c = london_clinic(1);
        let physios = [physio(10, &c, &["knee"], &[Weekday::Tue], (9, 0))];
        let offers = ranked_offers(&request(Priority::Urgent), &[c], &physios, utc(NOW), 100);
        assert!(!offers[0].target_missed, "Tuesday 09:00 BST is 26 h away");
        assert!(
            offers.iter().any(|o| o.target_missed),
            "the following Tuesday is not within 48 h"
        );
    }

    #[test]
    fn emergency_is_never_booked() {
        let c = london_clinic(1);
        let physios = [physio(10, &c, &["knee"], &WEEKDAYS, (9, 0))];
        assert!(
            ranked_offers(&request(Priority::Emergency), &[c], &physios, utc(NOW), 10).is_empty()
        );
    }

    #[test]
    fn limit_keeps_the_best() {
        let c = london_clinic(1);
        let physios = [
            physio(10, &c, &["knee"], &WEEKDAYS, (9, 0)),
            physio(11, &c, &["general"], &WEEKDAYS, (8, 0)),
        ];
        let all = ranked_offers(
            &request(Priority::Routine),
            std::slice::from_ref(&c),
            &physios,
            utc(NOW),
            usize::MAX,
        );
        let first = ranked_offers(&request(Priority::Routine), &[c], &physios, utc(NOW), 5);
        assert_eq!(first, all[..5]);
        assert_eq!(first[0].physio_id, id(11));
    }

    /// The first instant of local date `day` in `tz` (midnight, or the first
    /// hour after it where the clocks skip midnight).
    fn start_of(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
        use chrono::TimeZone;
        (0..24)
            .find_map(|hour| {
                tz.from_local_datetime(&day.and_hms_opt(hour, 0, 0)?)
                    .earliest()
            })
            .expect("some hour of the day exists")
            .with_timezone(&Utc)
    }

    #[test]
    fn no_local_day_in_the_coming_years_outlasts_the_diary_reads_reach() {
        // Every zone a clinic may choose, every day of the next three years:
        // a day no longer than the reach lies within it of any of its instants.
        let today = Utc::now().date_naive();
        for tz in chrono_tz::TZ_VARIANTS {
            let mut day = today;
            let mut starts = start_of(tz, day);
            for _ in 0..3 * 366 {
                let next = day.succ_opt().unwrap();
                let next_starts = start_of(tz, next);
                assert!(
                    next_starts - starts <= LOCAL_DAY_REACH,
                    "{day} in {tz} lasts {} h",
                    (next_starts - starts).num_minutes() as f64 / 60.0
                );
                (day, starts) = (next, next_starts);
            }
        }
    }
}
