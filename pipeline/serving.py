"""Trained models as MLflow pyfunc models that take raw text.

``mlflow models serve -m runs:/<run id>/model --env-manager local`` then answers, for a
sentiment model, ``POST /invocations {"inputs": ["A wonderful, moving film."]}`` with a
label and a probability per text; for a character language model,
``{"inputs": ["The movie was "], "params": {"length": 200, "temperature": 0.8}}`` with the
generated continuation of each prime; for a translation model,
``{"inputs": ["four hundred and twenty-one"], "params": {"beam_width": 5}}`` with the
translation. The model's artifact is the model folder (checkpoint and vocabularies); its code is this package (``code_paths``), and prediction runs
``pipeline.predict``, the same code as the CLI. Which task a logged model serves is in
its ``model_config``.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

PACKAGE_DIR = Path(__file__).resolve().parent

SIGNATURES = {
    "sentiment": ModelSignature(
        inputs=Schema([ColSpec("string", "text")]),
        outputs=Schema([ColSpec("string", "label"), ColSpec("double", "probability")]),
    ),
    "charlm": ModelSignature(
        inputs=Schema([ColSpec("string", "prime")]),
        outputs=Schema([ColSpec("string", "text")]),
        params=ParamSchema(
            [
                ParamSpec("length", "long", 200),
                ParamSpec("temperature", "double", 0.8),
                ParamSpec("top_k", "long", 0),  # 0: no top-k cut
                ParamSpec("seed", "long", 0),
            ]
        ),
    ),
}
SIGNATURES["translate"] = ModelSignature(
    inputs=Schema([ColSpec("string", "text")]),
    outputs=Schema([ColSpec("string", "translation")]),
    params=ParamSchema([ParamSpec("beam_width", "long", 5), ParamSpec("length_penalty", "double", 1.0), ParamSpec("max_length", "long", 60)]),
)
EXAMPLES = {
    "sentiment": pd.DataFrame({"text": ["A wonderful, moving film.", "A dull, lifeless film."]}),
    "charlm": pd.DataFrame({"prime": ["The movie was ", "I bought this "]}),
    "translate": pd.DataFrame({"text": ["four hundred and twenty-one", "seven thousand and five"]}),
}


class RnnlabModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: a column of strings in; per task, (label, probability) or generated text out."""

    def load_context(self, context) -> None:
        from pipeline.predict import CharGenerator, SentimentPredictor, Translator

        self.task = (context.model_config or {}).get("task", "sentiment")
        loader = {"sentiment": SentimentPredictor, "charlm": CharGenerator, "translate": Translator}[self.task]
        self.predictor = loader.from_dir(Path(context.artifacts["model_dir"]))

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        texts = model_input.iloc[:, 0].tolist() if isinstance(model_input, pd.DataFrame) else list(model_input)
        if self.task == "charlm":
            p = {"length": 200, "temperature": 0.8, "top_k": 0, "seed": 0, **(params or {})}
            top_k = int(p["top_k"]) or None
            generations = [self.predictor.generate(t, int(p["length"]), float(p["temperature"]), top_k, int(p["seed"])) for t in texts]
            return pd.DataFrame({"text": [g.text for g in generations]})
        if self.task == "translate":
            p = {"beam_width": 5, "length_penalty": 1.0, "max_length": 60, **(params or {})}
            out = self.predictor.translate(texts, int(p["beam_width"]), float(p["length_penalty"]), int(p["max_length"]))
            return pd.DataFrame({"translation": [t.translation for t in out]})
        predictions = self.predictor.predict(texts)
        return pd.DataFrame({"label": [p.label for p in predictions], "probability": [p.probability for p in predictions]})


def log_model(task: str, model_dir: Path) -> str:
    """Log the model in ``model_dir`` to the active run as ``model``; return its model URI."""
    requirements = [f"{name}=={version(name)}" for name in ("torch", "tokenizers", "numpy", "pandas", "mlflow")]
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PACKAGE_DIR / "mlflow_model.py"),  # models from code: nothing pickled
        artifacts={"model_dir": str(model_dir)},  # model.pt and the vocabularies, as the train stage writes them
        code_paths=[str(PACKAGE_DIR)],
        signature=SIGNATURES[task],
        input_example=EXAMPLES[task],
        model_config={"task": task},
        pip_requirements=requirements,
    )
    return info.model_uri
