"""What search and training runs share: the run directory's lifecycle, one Ctrl-C guard, one set
of learning-rate schedules, one evaluation, one versioned checkpoint format, one weight
optimiser, and the per-device speed settings (precision, memory format, the C allocator's)."""
