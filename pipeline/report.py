"""Human-readable summary of a finished run."""

from pipeline.local_runner import RunReport


def format_run_report(result: RunReport) -> str:
    lines = [f"\nRun {result.run_id} finished in {result.seconds:.1f} s", "Components:"]
    for component in result.components:
        lines.append(f"  {component.node_id:<20} {component.state:<7} {component.seconds:8.1f} s")
    summary = result.training_summary
    history = summary.get("history", {})
    if history.get("val_accuracy"):
        lines.append(
            f"Training on {summary.get('device')}: {len(history['val_accuracy'])} epochs, "
            f"eval accuracy {history['val_accuracy'][-1]:.4f}, eval loss {history['val_loss'][-1]:.4f}"
        )
    if result.split_counts:
        lines.append("Examples: " + ", ".join(f"{name} {count:,}" for name, count in result.split_counts.items()))
    if result.neighbours:
        lines.append("Nearest neighbours (cosine):")
        for word, neighbours in result.neighbours.items():
            lines.append(f"  {word}: " + ", ".join(f"{label} ({similarity:.3f})" for label, similarity in neighbours))
    lines.append(f"Projector files: {result.projector_dir}  (tensorboard --logdir {result.projector_dir})")
    lines.append(f"Serving model:   {result.serving_model_dir or 'none pushed'}")
    return "\n".join(lines)
