-- One index over the pending rows, (correlation_id, seq): the relay's
-- "is this row its correlation's head?" probe needs exactly that, and the
-- work list (a few hundred rows at most) is sorted by seq cheaply. With a
-- second, seq-only pending index the planner, which believes the pending set
-- is empty, would probe heads through it unparameterised: a comparison of
-- every pending row with every other on each round, under a backlog the
-- relay's whole time. One index fewer is also one fewer write per event.
DROP INDEX outbox_pending_seq;
