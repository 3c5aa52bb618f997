"""Preloaded by the worker pool's fork server only (optimiser.process_pool): the fork server
dies with the process that started it, even by SIGKILL, and its workers with it. Importing it
anywhere else would tie that process to its parent."""

from optimiser.process_pool import die_with_parent

die_with_parent()
