DROP INDEX push_deliveries_finished;
