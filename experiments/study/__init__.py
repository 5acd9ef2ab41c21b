"""What a study is, declared once: its run-level settings, the levers designs vary, the
outcomes each replicate reports and the posterior behaviour a run may draw from.

No file is written here and no model is run: the jobs (`experiments.jobs`) run what these
modules declare, the analysis and presentation read them. Every module of this package is
part of every job's key (`experiments.jobs.identity.JOB_CODE`): editing one recomputes results.
"""
