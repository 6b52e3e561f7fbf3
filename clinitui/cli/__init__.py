"""The headless front end (Typer). Thin: it parses options, calls the engine, prints results."""
