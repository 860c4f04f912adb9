"""The Evaluator's baseline: the latest blessed model other than the one being evaluated."""

from typing import Dict, List, Optional

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy

MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
CANDIDATE_KEY = "candidate"  # the Trainer's output this run: never its own baseline


class LatestBlessedOtherModelStrategy(tfx.dsl.experimental.ResolverStrategy):
    """Resolves the latest blessed Model that is not the candidate, with its ModelBlessing.

    With TFX's ``LatestBlessedModelStrategy`` resolved before the Trainer, a re-run with
    nothing changed finds the model it just blessed as its own baseline: the Evaluator
    runs again and the Pusher pushes the same model once more. Resolved after the
    Trainer and leaving the candidate out, the baseline of a re-run is the one of the
    run it repeats, so every component comes from the cache.

    Local runs only: ``KubeflowV2DagRunner`` compiles TFX's own strategies alone.
    """

    def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        candidates = {artifact.id for artifact in input_dict.get(CANDIDATE_KEY, [])}
        others = {
            MODEL_KEY: [model for model in input_dict[MODEL_KEY] if model.id not in candidates],
            MODEL_BLESSING_KEY: list(input_dict[MODEL_BLESSING_KEY]),
        }
        resolved = LatestBlessedModelStrategy().resolve_artifacts(store, others)
        return {**resolved, CANDIDATE_KEY: list(input_dict.get(CANDIDATE_KEY, []))}


def latest_blessed_model_resolver(candidate: Optional[types.BaseChannel] = None) -> tfx.dsl.Resolver:
    """A resolver of the latest blessed model; other than ``candidate`` when one is given."""
    channels = dict(
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    )
    if candidate is None:
        return tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy, **channels)
    return tfx.dsl.Resolver(strategy_class=LatestBlessedOtherModelStrategy, candidate=candidate, **channels)
