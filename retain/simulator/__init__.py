"""A seeded customer simulator: a population, its behaviour, a latent churn hazard, event files."""

from retain.simulator.arrival_noise import ArrivalNoise
from retain.simulator.engine import DEFAULT_START, Simulator
from retain.simulator.hazard import Reaction
from retain.simulator.live import LiveFeed

__all__ = ["DEFAULT_START", "ArrivalNoise", "LiveFeed", "Reaction", "Simulator"]
