"""interchange stage of the genospec pipeline."""
