"""data stage of the genospec pipeline."""
