"""The filing evaluation: a labeled corpus of a syndic's mail over a year
(`corpus`), and the run that files it through Lanterne's pipeline and says
how well (`run`). `python -m benchmarks.filing_eval --help`."""
