"""relax stage of the genospec pipeline."""
