DROP TABLE audit_log;
DROP TABLE guidance;
DROP TABLE referral_timeline;
DROP TABLE injury_reports;
DROP TABLE referrals;
DROP TABLE clients;
