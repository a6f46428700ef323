"""render stage of the genospec pipeline."""
