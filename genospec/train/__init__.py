"""train stage of the genospec pipeline."""
