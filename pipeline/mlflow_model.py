"""MLflow "models from code" entry point for every task's model (see pipeline/serving.py).

MLflow runs this file when it loads the logged model, instead of unpickling an object; the
task comes from the logged model's ``model_config``.
"""

import mlflow

from pipeline.serving import RnnlabModel

mlflow.models.set_model(RnnlabModel())
