"""The composition root: builds sessions, journal and plugins into jobs and runs them on schedule."""
