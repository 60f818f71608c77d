"""Reading the environment lives in core.env now, so the apps' own settings modules
(jobs.conf, notices.conf) need not import config, the top layer (#14). Settings still
import these names from here."""

from quietshelf.core.env import *  # noqa: F403
