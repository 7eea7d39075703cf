"""Exit codes scripts can rely on, and the errors a user can act on (one line each)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # done; for run --wait and watch: the run succeeded or was skipped
    RUN_FAILED = 1  # the run failed (or a rollback's campaign update failed)
    USAGE = 2  # bad command line (argparse)
    REJECTED = 3  # the run ended rejected by the quality gate; the campaign kept its version
    ACTION_NEEDED = 4  # something to do first: the message says what
    AWS_ERROR = 5  # AWS refused a call for another reason (permissions, throttling, ...)
    INTERRUPTED = 130  # Ctrl-C; a run being watched goes on


EXIT_CODES_HELP = """exit codes:
  0    done; for run --wait and watch: the run succeeded, or was skipped
  1    the run failed (the message names the failed step and its cause), or a rollback failed
  2    bad command line
  3    the run was rejected by the quality gate (the campaign kept its version)
  4    something to do first: no credentials, no such stack, stack not deployed, no runs yet,
       campaign not created or batch output not published yet, user unknown to the model,
       no configured filter for --genre/--exclude-seen, or not created yet,
       nothing to roll back, not confirmed, no such solution (or several: pass --solution)
  5    an AWS call failed for another reason (permissions, throttling, ...)
  130  interrupted; a run being watched goes on"""


class ActionNeeded(Exception):
    """Something the user has to do first; the message is one line that says what."""

    exit_code = ExitCode.ACTION_NEEDED


class NoCredentials(ActionNeeded):
    pass


class StackNotFound(ActionNeeded):
    pass


class StackNotReady(ActionNeeded):
    pass


class NoRunsYet(ActionNeeded):
    pass


class CampaignNotCreated(ActionNeeded):
    pass


class BatchOutputNotPublished(ActionNeeded):
    pass


class UnknownUser(ActionNeeded):
    pass


class NoSuchFilter(ActionNeeded):
    pass


class NothingToRollBack(ActionNeeded):
    pass


class NotConfirmed(ActionNeeded):
    pass


class RunInProgress(ActionNeeded):
    pass


class SynthesisNeeded(ActionNeeded):
    pass


class RollbackFailed(Exception):
    """The campaign update of a rollback ended in a failed status."""

    exit_code = ExitCode.RUN_FAILED


class NoSuchSolution(ActionNeeded):
    """--solution names none of the pipeline's solutions, or the command needs one and several exist."""
