"""What search and training runs share: the run directory's lifecycle, one Ctrl-C guard, one set
of learning-rate schedules, one evaluation and one versioned checkpoint format."""
