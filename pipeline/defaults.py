"""Default gate settings, free of TensorFlow imports so that the command line can show them quickly."""

DEFAULT_ACCURACY_FLOOR = 0.75  # accuracy a model needs to be blessed
DEFAULT_MAX_ACCURACY_DROP = 0.01  # how far below the latest blessed model's accuracy it may fall
DEFAULT_LABEL_BALANCE_BOUND = 0.1  # each split's positive share must be 0.5 +/- this
DEFAULT_EVAL_PERCENT = 20  # share of train/ held out as the eval split
