"""Module code of the Transform and Trainer components, named by import path."""
