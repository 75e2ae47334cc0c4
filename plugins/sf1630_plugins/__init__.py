"""Built-in sources, adapters and sinks of sf1630, registered like any third-party plugin."""
