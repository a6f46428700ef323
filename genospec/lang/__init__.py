"""lang stage of the genospec pipeline."""
