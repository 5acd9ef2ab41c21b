"""Jobs: a command line planned into jobs, each job run and written, the caches a job
reuses and the results store a sweep's folder is.

- `plan`: every job's settings composed and checked before any runs (Hydra's rules).
- `job`: one job, the replicates of a design beside their no-exchange runs.
- `cache`: the no-exchange runs and cities a job reuses.
- `identity`: what determines a result (job keys, design ids, code digest).
- `store`: a sweep's folder (its definition, job folders, status, locks).
- `outputs`: atomic writes, checksums, provenance; `signals`: how a command stops;
  `cluster`: SLURM submission checks.
"""
