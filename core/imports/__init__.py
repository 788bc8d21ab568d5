"""The Excel import pipeline: read, map, validate, dry-run, commit — for every import kind."""
