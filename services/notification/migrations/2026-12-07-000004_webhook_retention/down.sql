DROP INDEX webhook_messages_finished;
