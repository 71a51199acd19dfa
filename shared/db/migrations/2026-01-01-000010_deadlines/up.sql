-- Durable deadlines (docs/architecture.md, "Deadlines"): at most one running
-- timer per subject and kind, in the database of the service that owns the
-- awaited fact. `stage` counts the steps already fired (a reminder, then an
-- escalation); a timer with nothing left to fire is deleted.
CREATE TABLE deadlines (
    subject_id uuid NOT NULL,
    kind text NOT NULL,
    stage smallint NOT NULL DEFAULT 0 CHECK (stage >= 0),
    -- When the wait began: later stages are counted from here.
    started_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    PRIMARY KEY (subject_id, kind)
);

-- The worker reads the earliest due first.
CREATE INDEX deadlines_by_due ON deadlines (due_at);

-- Wake the workers only for a timer due soon: one due later is found by an
-- ordinary round (a worker never naps longer than 30 s). Moving a due time
-- (an operator, or a test standing in for the clock) wakes them too.
CREATE TRIGGER deadlines_notify AFTER INSERT OR UPDATE OF due_at ON deadlines
    FOR EACH ROW WHEN (NEW.due_at < now() + interval '2 minutes')
    EXECUTE FUNCTION spotter_notify('spotter_deadlines');
