ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_status_check;
ALTER TABLE injury_reports
    DROP CONSTRAINT injury_reports_red_flags_check,
    DROP CONSTRAINT injury_reports_consent_method_check,
    DROP CONSTRAINT injury_reports_side_check,
    DROP CONSTRAINT injury_reports_body_region_check;
