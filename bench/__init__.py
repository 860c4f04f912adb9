"""Side-by-side benchmark of the pipeline against the seed tutorial's bare script (`make bench`)."""
