"""The trained sentiment model as an MLflow pyfunc model that takes raw text.

``mlflow models serve -m runs:/<run id>/model --env-manager local`` then answers
``POST /invocations {"inputs": ["A wonderful, moving film."]}`` with a label and a
probability per text. The model's artifacts are the checkpoint and the vocabulary; its
code is this package (``code_paths``), and prediction runs ``pipeline.predict``, the same
code as the CLI.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

PACKAGE_DIR = Path(__file__).resolve().parent


class SentimentModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: a column of strings in, a frame of (label, probability) out."""

    def load_context(self, context) -> None:
        from pipeline.predict import SentimentPredictor

        self.predictor = SentimentPredictor.from_files(Path(context.artifacts["checkpoint"]), Path(context.artifacts["tokenizer"]))

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        texts = model_input.iloc[:, 0].tolist() if isinstance(model_input, pd.DataFrame) else list(model_input)
        predictions = self.predictor.predict(texts)
        return pd.DataFrame({"label": [p.label for p in predictions], "probability": [p.probability for p in predictions]})


def log_sentiment_model(model_dir: Path) -> str:
    """Log the model in ``model_dir`` to the active run as ``model``; return its model URI."""
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "text")]),
        outputs=Schema([ColSpec("string", "label"), ColSpec("double", "probability")]),
    )
    requirements = [f"{name}=={version(name)}" for name in ("torch", "tokenizers", "numpy", "pandas", "mlflow")]
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PACKAGE_DIR / "mlflow_model.py"),  # models from code: nothing pickled
        artifacts={"checkpoint": str(model_dir / "model.pt"), "tokenizer": str(model_dir / "tokenizer.json")},
        code_paths=[str(PACKAGE_DIR)],
        signature=signature,
        input_example=pd.DataFrame({"text": ["A wonderful, moving film.", "A dull, lifeless film."]}),
        pip_requirements=requirements,
    )
    return info.model_uri
