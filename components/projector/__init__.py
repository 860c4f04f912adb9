"""A component that publishes a trained embedding table for the Embedding Projector."""
