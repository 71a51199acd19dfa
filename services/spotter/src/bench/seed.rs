//! The booking database, written directly for phase 4: a network of ~1,000
//! clinics with ~100,000 future booked appointments would take hours to
//! make through the API, and set-based SQL makes it in seconds.
//!
//! The seed is marked (clinic names `bench-seed-…`, one sentinel trainer on
//! every seeded request and appointment) so a later run finds it instead of
//! seeding again. Seeded clinics take referrals only while phase 4 measures
//! them (far from every real region, they never get a booking, but booking
//! loads them): phases 1–3 of every run see the base network.

use super::PgArgs;
use anyhow::Context;
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

/// The trainer of every seeded request and appointment: how the seed's
/// appointments are found again to refresh them.
const SEED_TRAINER: &str = "00000000-0000-4000-8000-00000000bec5";
const SEED_CLINIC: &str = "c.name LIKE 'bench-seed-%'";
/// Physios per seeded clinic; each gets back-to-back hourly appointments.
const SEED_PHYSIOS_PER_CLINIC: i64 = 2;

pub struct BookingDb {
    client: Client,
}

impl BookingDb {
    /// The stack's booking database, or `None` (printed why) when it cannot
    /// be reached or is not the stack's: this run's clinics must be in it,
    /// so a wrong `--booking-db` is never seeded.
    pub async fn connect(pg: &PgArgs, our_clinics: &[Uuid]) -> Option<Self> {
        match Self::try_connect(pg, our_clinics).await {
            Ok(db) => Some(db),
            Err(err) => {
                println!("  booking database: {err:#}; phase 4 measures the base network only");
                None
            }
        }
    }

    async fn try_connect(pg: &PgArgs, our_clinics: &[Uuid]) -> anyhow::Result<Self> {
        let config = format!(
            "host={} port={} user={} dbname={}",
            pg.pg_host, pg.pg_port, pg.pg_user, pg.booking_db
        );
        let (client, connection) = tokio_postgres::connect(&config, NoTls)
            .await
            .with_context(|| format!("connecting to {}", pg.booking_db))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                eprintln!("  ! booking database connection: {err}");
            }
        });
        let ids: Vec<String> = our_clinics.iter().map(Uuid::to_string).collect();
        let found: i64 = client
            .query_one(
                "SELECT count(*) FROM clinics WHERE id = ANY($1::text[]::uuid[])",
                &[&ids],
            )
            .await?
            .get(0);
        anyhow::ensure!(
            usize::try_from(found).ok() == Some(ids.len()),
            "{} does not hold this run's clinics: not the stack's database (see --booking-db)",
            pg.booking_db
        );
        Ok(Self { client })
    }

    /// (clinics taking referrals, their future booked appointments).
    pub async fn network(&mut self) -> anyhow::Result<(i64, i64)> {
        let row = self
            .client
            .query_one(
                "SELECT (SELECT count(*) FROM clinics WHERE accepts_referrals),
                        (SELECT count(*) FROM appointments a JOIN clinics c ON c.id = a.clinic_id
                          WHERE c.accepts_referrals AND a.status = 'booked' AND a.ends_at > now())",
                &[],
            )
            .await?;
        Ok((row.get(0), row.get(1)))
    }

    /// Writes everything out before a measurement: after a burst or the
    /// seeding, the disk may still be writing what they left, and every
    /// commit's flush would wait behind it. Both networks are measured from
    /// the same quiet disk. Needs the right to checkpoint (a superuser or
    /// `pg_checkpoint`); without it, says so and measures anyway.
    pub async fn checkpoint(&mut self) {
        if let Err(err) = self.client.batch_execute("CHECKPOINT").await {
            println!("  (no checkpoint before measuring: {err})");
        }
    }

    pub async fn set_seed_enabled(&mut self, on: bool) -> anyhow::Result<()> {
        let sql = format!(
            "UPDATE clinics c SET accepts_referrals = $1, updated_at = now()
              WHERE {SEED_CLINIC} AND accepts_referrals <> $1"
        );
        self.client.execute(&sql, &[&on]).await?;
        Ok(())
    }

    /// Seeds clinics (once) to `total_clinics` taking referrals, and their
    /// appointments to about `appointments` in the future; appointments that
    /// time has moved into the past are replaced.
    pub async fn ensure_seed(
        &mut self,
        total_clinics: i64,
        appointments: i64,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let tx = self.client.transaction().await?;
        let count = |sql: String| {
            let tx = &tx;
            async move { anyhow::Ok(tx.query_one(&sql, &[]).await?.get::<_, i64>(0)) }
        };
        let mut changed = false;
        let seeded_clinics = count(format!(
            "SELECT count(*) FROM clinics c WHERE {SEED_CLINIC}"
        ));
        if seeded_clinics.await? == 0 {
            let others = count(format!(
                "SELECT count(*) FROM clinics c WHERE accepts_referrals AND NOT {SEED_CLINIC}"
            ))
            .await?;
            let n = (total_clinics - others).max(0);
            // A grid over the southern oceans, a degree or more apart: no
            // service area overlaps another, nor any region the runs use.
            tx.execute(
                "INSERT INTO clinics (id, name, timezone, lat, lon, service_radius_km,
                                      accepts_referrals, buffer_minutes, min_notice_minutes, horizon_days)
                 SELECT gen_random_uuid(), 'bench-seed-' || lpad(g::text, 4, '0'), 'UTC',
                        -5 - (g / 40), -175 + (g % 40) * 8.5, 15, false, 0, 0, 28
                   FROM generate_series(0, $1::bigint - 1) g",
                &[&n],
            )
            .await?;
            tx.execute(
                &format!(
                    "INSERT INTO physios (id, clinic_id, display_name, specialties)
                     SELECT gen_random_uuid(), c.id, c.name || ' physio ' || p, ARRAY['general']
                       FROM clinics c CROSS JOIN generate_series(1, $1::bigint) p WHERE {SEED_CLINIC}"
                ),
                &[&SEED_PHYSIOS_PER_CLINIC],
            )
            .await?;
            tx.execute(
                &format!(
                    "INSERT INTO weekly_hours (physio_id, weekday, start_time, end_time)
                     SELECT p.id, d, '08:00', '20:00'
                       FROM physios p JOIN clinics c ON c.id = p.clinic_id
                       CROSS JOIN generate_series(1, 7) d WHERE {SEED_CLINIC}"
                ),
                &[],
            )
            .await?;
            println!("  seeded {n} clinics × {SEED_PHYSIOS_PER_CLINIC} physios");
            changed = true;
        }
        let ahead = count(format!(
            "SELECT count(*) FROM appointments WHERE trainer_id = '{SEED_TRAINER}'
               AND status = 'booked' AND starts_at > now()"
        ))
        .await?;
        let physios = count(format!(
            "SELECT count(*) FROM physios p JOIN clinics c ON c.id = p.clinic_id WHERE {SEED_CLINIC}"
        ))
        .await?;
        if ahead < appointments * 9 / 10 && physios > 0 {
            // Requests are kept and re-booked, never deleted: deleting one
            // checks the appointments' foreign key row by row without an
            // index (minutes for 100,000), deleting appointments does not.
            let per_physio = (appointments + physios - 1) / physios;
            let requests = count(format!(
                "SELECT count(*) FROM referral_requests WHERE trainer_id = '{SEED_TRAINER}'"
            ))
            .await?;
            tx.batch_execute(&format!(
                "DELETE FROM appointments WHERE trainer_id = '{SEED_TRAINER}'"
            ))
            .await?;
            tx.execute(&insert_requests(), &[&(per_physio * physios - requests)])
                .await?;
            let booked = tx.execute(&insert_appointments(), &[]).await?;
            println!("  seeded {booked} future appointments");
            changed = true;
        }
        tx.commit().await?;
        if changed {
            // Statistics and visibility as in a database that grew this big
            // by itself, and no autovacuum of the fresh rows mid-measurement.
            self.client
                .batch_execute(
                    "VACUUM (ANALYZE) clinics, physios, weekly_hours, referral_requests, appointments",
                )
                .await?;
            println!("  seeding took {:.1} s", started.elapsed().as_secs_f64());
        }
        Ok(())
    }
}

/// `$1` more seeded requests (booked ones: booking never reads where they
/// came from, so they all come from one point in the ocean).
fn insert_requests() -> String {
    format!(
        "INSERT INTO referral_requests (referral_id, trainer_id, client_id, body_region,
                                        priority, lat, lon, requested_at, attempt, state)
         SELECT gen_random_uuid(), '{SEED_TRAINER}', gen_random_uuid(), 'knee', 'routine',
                -45, 0, now(), 1, 'booked'
           FROM generate_series(1, $1::bigint)"
    )
}

/// An appointment for every seeded request: request n goes to seeded physio
/// n mod P, at the (n div P)-th hour from the next one, so each physio's
/// appointments are back to back and never overlap (the exclusion
/// constraint holds).
fn insert_appointments() -> String {
    format!(
        "WITH physio AS MATERIALIZED (
             SELECT p.id, p.clinic_id, row_number() OVER (ORDER BY p.id) - 1 AS i,
                    count(*) OVER () AS total
               FROM physios p JOIN clinics c ON c.id = p.clinic_id WHERE {SEED_CLINIC}
         ), request AS MATERIALIZED (
             SELECT referral_id, client_id, row_number() OVER (ORDER BY referral_id) - 1 AS n
               FROM referral_requests WHERE trainer_id = '{SEED_TRAINER}'
         ), slot AS (
             SELECT r.referral_id, r.client_id, p.id AS physio_id, p.clinic_id,
                    date_trunc('hour', now()) + (r.n / p.total + 1) * interval '1 hour' AS starts_at
               FROM request r JOIN physio p ON p.i = r.n % p.total
         )
         INSERT INTO appointments (id, referral_id, trainer_id, client_id, physio_id, clinic_id,
                                   priority, starts_at, ends_at, blocked_until, target_missed)
         SELECT gen_random_uuid(), referral_id, '{SEED_TRAINER}', client_id, physio_id, clinic_id,
                'routine', starts_at, starts_at + interval '45 minutes',
                starts_at + interval '45 minutes', false
           FROM slot"
    )
}
