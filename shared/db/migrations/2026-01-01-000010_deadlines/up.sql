-- Durable deadlines (docs/architecture.md, "Deadlines"): at most one running
-- wait per subject and kind, in the database of the service that owns the
-- awaited fact. A wait has two steps: the reminder (due at `due_at` while
-- `stage` is 'reminder'), then the escalation at `escalate_at`; after it the
-- row is deleted. `due_at` is the next look, which a busy or failed firing
-- puts off a little.
CREATE TABLE deadlines (
    subject_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('booking', 'guidance', 'acknowledgement')),
    stage text NOT NULL CHECK (stage IN ('reminder', 'escalation')),
    started_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    escalate_at timestamptz NOT NULL,
    PRIMARY KEY (subject_id, kind)
);

-- The worker reads the earliest due first.
CREATE INDEX deadlines_by_due ON deadlines (due_at);

-- Wake the workers only for a step due soon: one due later is found by an
-- ordinary round (a worker never naps longer than 30 s). Moving a due time
-- (an operator, or a test standing in for the clock) wakes them too.
CREATE TRIGGER deadlines_notify AFTER INSERT OR UPDATE OF due_at ON deadlines
    FOR EACH ROW WHEN (NEW.due_at < now() + interval '2 minutes')
    EXECUTE FUNCTION spotter_notify('spotter_deadlines');
