"""``syncd run``: the scheduler loop, its settings, its state file, logging and sd_notify.

The jobs it runs besides syncing come from the job table it is given (:mod:`syncd.jobs`)."""
