-- The weekly adherence deadline (docs/training.md, "Adherence") for the
-- referrals already under care when it was introduced: each whose latest
-- guidance has exercises waits for the end of the current week, Monday
-- 00:00 in the clinic's zone (UTC when none is known, or when PostgreSQL
-- does not know the name). Guidance shared from now on starts its own.
INSERT INTO deadlines (subject_id, kind, stage, started_at, due_at, escalate_at)
SELECT r.id, 'adherence_week', 'reminder', g.created_at, week_end.at, week_end.at
FROM referrals r
JOIN LATERAL (
    SELECT created_at, exercises FROM guidance
    WHERE referral_id = r.id ORDER BY version DESC LIMIT 1
) g ON true
CROSS JOIN LATERAL (
    SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = r.clinic_timezone)
                THEN r.clinic_timezone ELSE 'UTC' END AS name
) zone
CROSS JOIN LATERAL (
    SELECT (date_trunc('week', now() AT TIME ZONE zone.name) + interval '7 days')
           AT TIME ZONE zone.name AS at
) week_end
WHERE r.status IN ('assessed', 'guidance_shared', 'acknowledged')
  AND jsonb_array_length(g.exercises) > 0
ON CONFLICT (subject_id, kind) DO NOTHING;
