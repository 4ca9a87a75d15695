"""What a run reports: a progress bar and a summary on the console, JUnit XML and a self-contained HTML page."""
