ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_cause_known;
UPDATE referral_timeline
SET cause = 'guidance_v' || guidance_version || substring(cause FROM '^guidance(_.*)$')
WHERE guidance_version IS NOT NULL;
ALTER TABLE referral_timeline DROP COLUMN guidance_version;
