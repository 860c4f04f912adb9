"""An ExampleGen over the aclImdb folder layout (Large Movie Review Dataset v1.0)."""
