"""Whether SLURM will take a sweep's jobs, asked before anything is written.

A job that `sbatch` refuses (a partition that does not exist, more memory or time than the
partition allows, a wrong account) would otherwise surface from Hydra's submitit launcher as a
long traceback after the sweep folder was made. `check_sbatch` renders the batch script exactly
as the launcher will (submitit's own code, with the launcher's settings) and gives it to
`sbatch --test-only`, which checks it against the cluster without queueing anything. Should
sbatch still fail when the jobs are submitted, `submitting` ends the command in one line too.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
import tempfile

import submitit
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import DictConfig, OmegaConf
from submitit.core.utils import FailedJobError

from sim import UserError

#: Launcher keys that are not submission parameters (Hydra's target, the log folder, which
#: holds an interpolation of the sweep folder).
NOT_SUBMITTED = ("_target_", "submitit_folder")
#: The settings a refused job is most often about, named in the message.
USUAL_CAUSES = "partition, account, mem_gb, timeout_min, cpus_per_task"
#: Seconds to wait for `sbatch --test-only` (it asks the controller).
TIMEOUT_S = 60


class SubmissionError(UserError):
    """SLURM would refuse the sweep's jobs (one line: the reason and what to change)."""


def sbatch_script(launcher: DictConfig) -> str:
    """The batch script the submitit SLURM launcher would submit for a job of this sweep."""
    params = {
        k: OmegaConf.to_container(launcher[k], resolve=True)
        if OmegaConf.is_config(launcher[k])
        else launcher[k]
        for k in launcher
        if k not in NOT_SUBMITTED
    }
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    with tempfile.TemporaryDirectory() as folder:
        executor = submitit.AutoExecutor(
            cluster="slurm", folder=folder, slurm_max_num_timeout=params.pop("max_num_timeout", 0)
        )
        executor.update_parameters(
            **{k if k in shared else f"slurm_{k}": v for k, v in params.items()}
        )
        return executor._executor._make_submission_file_text("true", "check")


def refusal(stderr: str) -> str:
    """sbatch's reason for refusing a job, from its error output (its first error line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("sbatch: error: ") for line in lines if "error" in line]
    return (errors or lines or ["no message"])[0]


def check_sbatch(launcher: DictConfig) -> None:
    """Refuse, in one line, a sweep whose jobs SLURM would not take, or one started where
    there is no sbatch."""
    missing = [name for name in ("sbatch", "srun") if shutil.which(name) is None]
    if missing:
        raise SubmissionError(
            f"hydra/launcher: a SLURM launcher needs sbatch and srun, and {missing[0]} is not on "
            "PATH here; run the command where SLURM jobs are submitted (a login node), or use "
            "hydra/launcher=local_processes on this machine"
        )
    try:
        proc = subprocess.run(
            ["sbatch", "--test-only"],
            input=sbatch_script(launcher),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SubmissionError(
            f"hydra/launcher: sbatch --test-only did not answer within {TIMEOUT_S} s; is the "
            "SLURM controller up (sinfo)?"
        ) from None
    if proc.returncode != 0:
        raise SubmissionError(
            f"hydra/launcher: sbatch refuses the job ({refusal(proc.stderr)}); check "
            f"hydra.launcher.{USUAL_CAUSES.replace(', ', ', hydra.launcher.')} "
            f"(partition now {launcher.get('partition')!r})"
        )


@contextlib.contextmanager
def submitting():
    """Around the SLURM launcher's work (hydra_plugins/exchange_launchers): a failure to submit
    ends the command with one line naming sbatch's reason and exit code 1, instead of sbatch's
    lines, which submitit prints, and submitit's traceback: a controller that went down, or a
    limit that changed, after `check_sbatch` passed the jobs. What is printed meanwhile is
    shown after."""
    held = io.StringIO()
    try:
        with contextlib.redirect_stderr(held):
            yield
    except FailedJobError as err:
        held = io.StringIO()
        print(
            f"error: hydra/launcher: sbatch did not submit the jobs ({refusal(str(err))}); "
            "nothing was queued: run the same command again once SLURM takes jobs (sinfo), "
            f"or check hydra.launcher.{USUAL_CAUSES.replace(', ', ', hydra.launcher.')}",
            file=sys.stderr,
        )
        # past Hydra's report of exceptions, which adds a line about HYDRA_FULL_ERROR
        raise SystemExit(1) from None
    finally:
        sys.stderr.write(held.getvalue())
