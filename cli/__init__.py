"""The genospec command line (click), installed as `genospec`."""
