DROP FUNCTION spotter_notify();
