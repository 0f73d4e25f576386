"""The Ray Tune searchers: NARS and every baseline, built by name from one request (`registry`, `request`)."""
