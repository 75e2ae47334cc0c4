"""Operating the agent: metrics, progress, reports, logging, doctor."""
