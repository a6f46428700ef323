"""nn stage of the genospec pipeline."""
