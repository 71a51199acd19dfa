-- Fair-use quotas (docs/architecture.md, "Fair use"). Each check reads only
-- what the quota bounds, never a trainer's whole history: a trainer's open
-- referrals (status in the index, so closed ones are never visited; a
-- client's are among them), and a trainer's clients added in the last day.
CREATE INDEX referrals_by_trainer_status ON referrals (trainer_id, status);
CREATE INDEX clients_by_trainer_created ON clients (trainer_id, created_at);
