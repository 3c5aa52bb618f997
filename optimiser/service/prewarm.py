"""Imported once by the solver pool's fork server: loads the engine and solves a tiny instance,
so that every solver process forked from it starts warm, in milliseconds, with nothing left to
import (a replaced solver is back at once). Importing this module runs a solve: nothing else
should import it."""

from optimiser.service.tasks import warm_up

warm_up()
