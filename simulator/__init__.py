"""A seeded customer simulator: a population, its behaviour, a latent churn hazard, event files."""

from simulator.arrival_noise import ArrivalNoise
from simulator.engine import DEFAULT_START, Simulator
from simulator.hazard import Reaction
from simulator.live import LiveFeed

__all__ = ["DEFAULT_START", "ArrivalNoise", "LiveFeed", "Reaction", "Simulator"]
