"""The paper's experiments as seeded functions returning plain results."""
from .models import MLP, ShiftNoise, mlp
from .training import History, evaluate, split_data, steps_to_accuracy, train

__all__ = ["MLP", "ShiftNoise", "mlp", "History", "train", "evaluate", "split_data",
           "steps_to_accuracy"]
