"""Human-readable summary of a finished run."""

import os

from components.example_gen import BY_MOVIE, BY_REVIEW, EVAL_SPLIT_REPORT_KEY
from components.model import WarmStart
from pipeline.definition import nodes
from pipeline.records.results import RunReport


def format_run_report(result: RunReport) -> str:
    lines = [f"\nRun {result.run_id} finished in {result.seconds:.1f} s", "Components:"]
    for component in result.components:
        lines.append(f"  {component.node_id:<30} {component.state:<7} {component.seconds:8.1f} s")
    summary = result.training_summary
    if summary.get("eval_accuracy") is not None:
        lines.append(
            f"Training on {summary['device']}: {summary['epochs_run']} epochs, model of epoch "
            f"{summary['exported_epoch']}: eval accuracy {summary['eval_accuracy']:.4f}, "
            f"eval loss {summary['eval_loss']:.4f}"
        )
    if summary.get("warm_start"):
        lines.append("Start: " + WarmStart(**summary["warm_start"]).describe())
    lines.extend(format_input_report(result.input_report))
    if result.split_counts:
        lines.append("Examples: " + ", ".join(f"{name} {count:,}" for name, count in result.split_counts.items()))
    if result.vocabulary_size is not None:
        lines.append(f"Vocabulary: {result.vocabulary_size:,} tokens (from the train split)")
    if result.neighbours:
        lines.append("Nearest neighbours (cosine):")
        for word, neighbours in result.neighbours.items():
            lines.append(f"  {word}: " + ", ".join(f"{label} ({similarity:.3f})" for label, similarity in neighbours))
    if result.word2vec:
        lines.extend(format_word2vec(result.word2vec))
    if result.evaluation:
        states = {component.node_id: component.state for component in result.components}
        lines.extend(format_evaluation(result.evaluation, cached=states.get(nodes.EVALUATOR) == nodes.CACHED))
    lines.append(f"Projector files and training logs: {result.projector_dir}  "
                 f"(python pipeline.py tensorboard --output-dir {os.path.dirname(result.projector_dir)})")
    if result.serving_model_dir is None:
        served = "none pushed yet"
    elif result.pushed_new_version:
        served = f"{result.serving_model_dir} (pushed by this run)"
    else:
        served = (f"{result.serving_model_dir} (unchanged: this run pushed nothing; "
                  f"version {os.path.basename(result.serving_model_dir)} is served)")
    lines.append(f"Serving model:   {served}")
    if result.pruned and result.pruned.artifacts:
        lines.append(f"Retention: {result.pruned.describe()}")
    return "\n".join(lines)


def format_word2vec(summary: dict) -> list:
    """The Word2Vec step: what it learned from, how long it took, neighbours and word similarity."""
    settings = summary.get("settings", {})
    lines = [f"Word2Vec (skip-gram in TensorFlow, on {summary.get('device') or 'CPU'}): "
             f"{summary.get('vocabulary_size', 0):,} words from {summary.get('reviews', 0):,} reviews "
             f"({', '.join(summary.get('splits', []))}), {settings.get('word2vec_epochs')} epochs in "
             f"{summary.get('training_seconds', 0):.1f} s"]
    similarity = summary.get("word_similarity")
    if similarity:
        shown = f"{similarity['spearman']:.3f}" if similarity.get("spearman") is not None else "n/a"
        lines.append(f"  word similarity: Spearman {shown} on {similarity['pairs_rated']} pairs of "
                     f"{os.path.basename(similarity['file'])} ({similarity['pairs_missing']} with unknown words)")
    for word, neighbours in summary.get("nearest_neighbours", {}).items():
        lines.append(f"  {word}: " + ", ".join(f"{label} ({similarity:.3f})" for label, similarity in neighbours[:8]))
    return lines


_METRIC_ORDER = ("binary_accuracy", "auc", "precision", "recall", "loss", "example_count")


def format_evaluation(summary, cached: bool = False) -> list:
    """The Evaluator's metrics next to the baseline's, and the verdict.

    ``cached``: the Evaluator's result was reused from an earlier run (same model, same baseline),
    so the verdict is that run's, not a new one.
    """
    names = [n for n in _METRIC_ORDER if n in summary.metrics] + sorted(set(summary.metrics) - set(_METRIC_ORDER))
    lines = ["Evaluation (cached: the earlier run that evaluated this same model against the same baseline):"
             if cached else "Evaluation (new model vs latest blessed model):"]
    for name in names:
        value = summary.metrics[name]
        baseline = summary.baseline_metrics.get(name)
        shown = f"{value:,.0f}" if name == "example_count" else f"{value:.4f}"
        if baseline is not None:
            shown += f"   baseline {baseline:,.0f}" if name == "example_count" else f"   baseline {baseline:.4f}"
        lines.append(f"  {name:<16} {shown}")
    if not summary.baseline_metrics:
        lines.append("  (no model was served when it was evaluated: only the accuracy floor applied)" if cached
                     else "  (no model served yet: only the accuracy floor applies)")
    for span in sorted(summary.span_accuracy):
        baseline = summary.span_baseline_accuracy.get(span)
        lines.append(f"  span {span:<11} accuracy {summary.span_accuracy[span]:.4f}"
                     + (f"   served model {baseline:.4f}" if baseline is not None else ""))
    problem = summary.data_problem()
    if problem:
        lines.append(f"WARNING: {problem}")
    if cached:
        lines.append(f"Verdict of that run: {'BLESSED' if summary.blessed else 'NOT BLESSED'} "
                     "(this run evaluated nothing new)")
    else:
        lines.append("Verdict: BLESSED, pushed to the serving folder" if summary.blessed
                     else "Verdict: NOT BLESSED, the serving folder is unchanged")
    if not summary.blessed:
        lines.extend(f"  {failure}" for failure in summary.failures)
    return lines


_ISSUE_TEXT = {
    "invalid_utf8": "not valid UTF-8 (kept, bad bytes replaced with U+FFFD)",
    "unknown_rating": "named without ID_RATING.txt (kept, label from the folder, rating -1)",
    "truncated": "larger than 200 KB (kept, cut)",
    "empty": "empty (skipped)",
    "unreadable": "unreadable (skipped)",
}


def format_input_report(report: dict) -> list:
    """What the ExampleGen skipped or repaired, one line per kind with the first paths."""
    if not report:
        return []
    counts = report.get("issue_counts", {})
    lines = [f"Input: {report.get('reviews_kept', 0):,} reviews read"
             + ("" if counts else ", no problems found")]
    for kind, count in counts.items():
        paths = report.get("issue_paths", {}).get(kind, [])
        shown = ", ".join(paths[:3]) + (", ..." if count > 3 else "")
        lines.append(f"  {count:,} {_ISSUE_TEXT.get(kind, kind)}: {shown}")
    placed = report.get(EVAL_SPLIT_REPORT_KEY)
    if placed:
        by_movie, by_review = placed.get(BY_MOVIE, 0), placed.get(BY_REVIEW, 0)
        if not by_review:
            how = "by movie (train/urls_*.txt): all reviews of a movie on one side, as in the official split"
        elif not by_movie:
            how = "by review (no URL lists name the movies): reviews of one movie may land on both sides"
        else:
            how = (f"by movie for {by_movie:,} reviews (train/urls_*.txt), by review for {by_review:,} "
                   "the URL lists do not name")
        lines.append(f"Eval split: carved {how}")
    return lines
