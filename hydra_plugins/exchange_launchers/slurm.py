"""Hydra's submitit SLURM launcher whose failure to submit is one line
(configs/hydra/launcher/cluster_slurm.yaml; `experiments.jobs.cluster.submitting`). Hydra imports
this module at every start, to discover plugins: the project is imported only when it launches."""

from __future__ import annotations

from hydra_plugins.hydra_submitit_launcher import submitit_launcher


class SlurmLauncher(submitit_launcher.SlurmLauncher):
    """submitit's SLURM launcher, its submission inside `experiments.jobs.cluster.submitting`."""

    def launch(self, job_overrides, initial_job_idx):
        from experiments.jobs.cluster import submitting

        with submitting():
            return super().launch(job_overrides, initial_job_idx)
