DROP INDEX clients_by_trainer_created;
DROP INDEX referrals_by_client_status;
DROP INDEX referrals_by_trainer_status;
