"""The genospec grammar (genospec.lark), shipped inside the wheel."""
