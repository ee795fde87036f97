"""MLflow "models from code" entry point for the sentiment model (see pipeline/serving.py).

MLflow runs this file when it loads the logged model, instead of unpickling an object.
"""

import mlflow

from pipeline.serving import SentimentModel

mlflow.models.set_model(SentimentModel())
