"""Imported once by the solver pool's fork server: loads the engine and solves a tiny instance,
so that every solver process forked from it starts warm, in milliseconds, with nothing left to
import (a replaced solver is back at once). Importing this module runs a solve: nothing else
should import it. The planner is loaded too: a plan, stochastic or backtest job in a fresh
solver process imported it inside its run (0.5-1 s of a job's budget under load)."""

import optimiser.multiperiod.planner  # noqa: F401
from optimiser.service.tasks import warm_up

warm_up()
