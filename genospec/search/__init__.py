"""search stage of the genospec pipeline."""
