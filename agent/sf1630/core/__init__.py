"""Used by both directions: transfer states, job specs, the spool, remote sessions, schedules, privacy."""
