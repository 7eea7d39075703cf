"""The pipeline's command-line tool: run, watch, inspect and roll back retraining (python -m pipelinectl)."""
