"""The model card: every task's model, data, training and results in Hugging Face's format.

``render(...)`` turns the params, each task's metrics file, its prepared data's meta.json
and its training summary into ``reports/model_card.md``: YAML metadata (``model-index``
with one result per task and metric, written by ``huggingface_hub.ModelCardData``), then
the sections of a model card. A task appears once its metrics file exists; the card grows
as tasks land.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from pipeline.plots import CELL_LABELS

TEMPLATE = """---
{{ card_data }}
---

# rnnlab: recurrent networks on classic sequence tasks

Models trained by the rnnlab pipeline (`dvc repro`), one per task of the lecture
"Recurrent networks": the Elman RNN, LSTM and GRU, trained with backpropagation through
time. Every figure below comes from the metrics files of the run that wrote this card
(`dvc metrics show`), and every run is recorded in MLflow.

## Model details

- **Developed by:** the rnnlab project; PyTorch {{ versions.torch }}, Lightning {{ versions.lightning }}.
- **Model type:** recurrent neural networks (Elman RNN / LSTM / GRU), trained from scratch.
- **Code commit** the pipeline ran on: `{{ commit }}`; parameters: `params.yaml` (seed {{ seed }}).
- **License:** MIT (code); each data set keeps its own terms (see each task's Data line).

{% for task in tasks %}{{ task }}
{% endfor %}
## Intended uses and limitations

These models are for teaching and for reproducible comparison of recurrent cells: they
show what each architecture learns from small, public data on a laptop-sized budget.
They are not production classifiers or generators: the training sets are small and
narrow (one genre of English text each), the vocabularies are closed (unseen words
become `[UNK]`), and no fairness, robustness or safety evaluation has been done.

## How to reproduce

```
pip install -e ".[dev]"
dvc repro                 # prepare, train, evaluate every task, then this card
dvc metrics show          # the figures above
mlflow ui --backend-store-uri sqlite:///mlflow.db
```

"""


def _sentiment(
    metrics: Mapping[str, Any], meta: Mapping[str, Any], params: Mapping[str, Any], summary: Mapping[str, Any], extra: Mapping[str, Any]
) -> tuple[str, list[EvalResult]]:
    train = params["train"]["sentiment"]
    test, vader = metrics["test"], metrics.get("baseline_vader")
    splits = meta["splits"]
    arch = (
        f"embedding {train['embedding_dim']} -> {train['num_layers']}-layer "
        f"{'bidirectional ' if train['bidirectional'] else ''}{train['cell'].upper()} ({train['hidden_size']} units per direction, "
        f"{train['backend']} backend) -> {train['pooling']} pooling -> linear over {len(meta['classes'])} classes"
    )
    if isinstance(vader, Mapping):
        baseline_row = f"| VADER lexicon (rule-based, compound score >= 0 is positive) | {vader['accuracy']:.4f} | {vader['f1_macro']:.4f} |"
    else:
        baseline_row = f"| VADER lexicon | {vader} | |"
    neutral = f"ratings with |r| <= {meta['neutral_band']} dropped ({meta['dropped_neutral']} sentences)" if meta["source"] == "vader" else "labels as given"
    caveat = (
        "**Limitations.** 8,000 movie-review sentences teach the model this corpus's cues, not sentiment in general: "
        "'really' and 'was' occur mostly in negative snippets here (about 31% positive), so out-of-domain text such as "
        '"The food was really good" can come out negative.\n'
        if meta["source"] == "vader"
        else ""
    )
    text = f"""## Sentiment classification (many-to-one)

- **Model:** {arch}.
- **Data:** {meta["path"]}; classes {", ".join(meta["classes"])}; {neutral}; {meta["dropped_duplicates"]} duplicates removed;
  split {splits["train"]["examples"]} / {splits["val"]["examples"]} / {splits["test"]["examples"]} (train / val / test) with seed {meta["seed"]};
  word vocabulary of {meta["vocab_size"]} fitted on the training split.
- **Training:** AdamW, learning rate {train["lr"]}, batch {train["batch_size"]}, dropout {train["dropout"]}, gradient-norm clip {train["grad_clip"]},
  up to {train["max_epochs"]} epochs with early stopping on validation loss (patience {train["patience"]});
  kept epoch {summary.get("best_epoch", "?")} of {summary.get("epochs", "?")} (lowest validation loss {summary.get("best_val_loss", float("nan")):.4f}).

| model (test split, {metrics["n_test"]} sentences) | accuracy | macro-F1 |
|---|---|---|
| this model | {test["accuracy"]:.4f} | {test["f1_macro"]:.4f} |
{baseline_row}

{caveat}
![training curves](../plots/sentiment/train/training_curves.png)
![confusion matrix](../plots/sentiment/eval/confusion_matrix.png)

"""
    dataset = {
        "dataset_type": meta["source"],
        "dataset_name": meta["path"],
        "dataset_split": "test",
        "task_type": "text-classification",
        "task_name": "Sentiment classification",
    }
    results = [
        EvalResult(metric_type="accuracy", metric_value=test["accuracy"], **dataset),
        EvalResult(metric_type="f1", metric_name="macro-F1", metric_value=test["f1_macro"], **dataset),
    ]
    return text, results


def _charlm(
    metrics: Mapping[str, Any], meta: Mapping[str, Any], params: Mapping[str, Any], summary: Mapping[str, Any], extra: Mapping[str, Any]
) -> tuple[str, list[EvalResult]]:
    train = params["train"]["charlm"]
    test, base, splits = metrics["test"], metrics["baselines"], meta["splits"]
    arch = (
        f"character embedding {train['embedding_dim']} -> {train['num_layers']}-layer {train['cell'].upper()} "
        f"({train['hidden_size']} units, {train['backend']} backend) -> linear over {meta['vocab_size']} characters (`<unk>` included)"
    )
    order = f"lines shuffled with seed {meta['seed']}" if meta["shuffle_lines"] else "lines kept in their order"
    rare = meta["rare_characters"]
    unk = (
        f"{len(rare)} characters seen fewer than {meta['min_char_count']} times in training (`{' '.join(rare)}`) and any unseen character are read as `<unk>` "
        f"({splits['test']['unk']} of the test characters)"
        if rare or splits["test"]["unk"]
        else "every character of the text is in the vocabulary"
    )
    seconds = summary.get("seconds")
    read = f"{summary.get('characters_seen', 0):,} characters read" + (f", {seconds / 60:.1f} minutes" if seconds else "")
    epoch = summary.get("best_epoch")
    best = f"{summary.get('best_val_bpc') or float('nan'):.4f} bits per character after {epoch:.2f} epochs" if epoch is not None else "n/a"
    rows = [
        f"| this model | {test['bits_per_char']:.4f} | {test['perplexity']:.2f} |",
        f"| bz2 -9, given the training text | {base['bz2']:.4f} | {2 ** base['bz2']:.2f} |",
        f"| xz -9, given the training text | {base['xz']:.4f} | {2 ** base['xz']:.2f} |",
        f"| unigram (character frequencies, no context) | {base['unigram']:.4f} | {2 ** base['unigram']:.2f} |",
    ]
    vader_note = (
        " (here tweets with user handles such as `@anonymous`, and opinionated reviews); the sentences are shuffled, "
        "so it has learned no context beyond the sentence it is in"
        if meta["source"] == "vader"
        else ""
    )
    blocks = []
    for sample in extra.get("samples", []):
        top_k = f", top-k {sample['top_k']}" if sample.get("top_k") else ""
        blocks.append(f"Temperature {sample['temperature']}{top_k} (seed {sample['seed']}):\n\n```text\n{sample['prime']}{sample['text']}\n```\n")
    sample_blocks = "\n".join(blocks)
    text = f"""## Character-level language model (char-RNN, generation)

- **Model:** {arch}.
- **Data:** {meta["path"]}; {meta["characters"]:,} characters, {order}, cut at line ends into
  {splits["train"]["characters"]:,} / {splits["val"]["characters"]:,} / {splits["test"]["characters"]:,} characters (train / val / test);
  {unk}; `<unk>` is never generated.
- **Training:** truncated backpropagation through time: windows of {train["bptt"]} characters over {train["batch_size"]} parallel streams,
  the state carried from window to window and detached between them; AdamW, learning rate {train["lr"]} ({train["lr_schedule"]} schedule),
  gradient-norm clip {train["grad_clip"]}, dropout {train["dropout"]}, {train["max_epochs"]} epochs ({read});
  kept the checkpoint with the lowest validation loss ({best}).

| test text ({metrics["test_characters"]:,} characters) | bits per character | perplexity per character |
|---|---|---|
{chr(10).join(rows)}

The compressors see the training text first, so their figure is the cost of the test text given the
training text, like the model's. Generated from the prime below (`rnnlab generate`):

{sample_blocks}
**Limitations.** The model continues text in the style of its corpus{vader_note}; nothing filters what it generates.

![training curves](../plots/charlm/train/training_curves.png)
"""
    dataset = {
        "dataset_type": meta["source"],
        "dataset_name": meta["path"],
        "dataset_split": "test",
        "task_type": "text-generation",
        "task_name": "Character-level language modelling",
    }
    results = [
        EvalResult(metric_type="bits_per_character", metric_name="test bits per character", metric_value=test["bits_per_char"], **dataset),
        EvalResult(metric_type="perplexity", metric_name="test perplexity per character", metric_value=test["perplexity"], **dataset),
    ]
    return text, results


def _translate(
    metrics: Mapping[str, Any], meta: Mapping[str, Any], params: Mapping[str, Any], summary: Mapping[str, Any], extra: Mapping[str, Any]
) -> tuple[str, list[EvalResult]]:
    train, evaluate = params["train"]["translate"], params["evaluate"]["translate"]
    splits, attention = meta["splits"], metrics.get("attention", train["attention"])
    attention_text = {
        "bahdanau": "additive (Bahdanau) attention over the encoder outputs",
        "luong": "multiplicative (Luong, general) attention over the encoder outputs",
        "none": "no attention: the encoder's final states are the only context (the fixed-vector baseline)",
    }[attention]
    arch = (
        f"embedding {train['embedding_dim']} -> {train['num_layers']}-layer bidirectional {train['cell'].upper()} encoder "
        f"({train['hidden_size']} units per direction) -> {attention_text} -> {train['cell'].upper()} decoder ({2 * train['hidden_size']} units) "
        f"-> linear over {meta['target_vocab_size']} target words"
    )
    greedy, beam = metrics["greedy"], metrics["beam"]
    dropped = sum(s["dropped_too_long"] for s in splits.values())
    best = summary.get("best_val_exact")
    figures = "".join(f"![attention {i}](../plots/translate/eval/attention_{i}.png)\n" for i in range(evaluate["heatmaps"]) if attention != "none")
    text = f"""## Machine translation (sequence to sequence with attention)

- **Model:** {arch}.
- **Data:** {meta["path"]}{"" if meta["source"] == "num2words" else f" ({meta['source_language']} -> {meta['target_language']})"};
  {splits["train"]["pairs"]:,} / {splits["val"]["pairs"]:,} / {splits["test"]["pairs"]:,} pairs (train / val / test, seed {meta["seed"]}){
        ", disjoint by number" if meta["source"] == "num2words" else ""
    };
  word vocabularies of {meta["source_vocab_size"]} source and {meta["target_vocab_size"]} target entries fitted on the training pairs;
  {dropped} pairs longer than {params["prepare"]["translate"]["max_length"]} tokens dropped.
- **Training:** AdamW, learning rate {train["lr"]}, batch {train["batch_size"]}, teacher forcing {train["teacher_forcing"]}, dropout {train["dropout"]},
  gradient-norm clip {train["grad_clip"]}, up to {train["max_epochs"]} epochs with early stopping on validation loss;
  kept epoch {summary.get("best_epoch", "?")} of {summary.get("epochs", "?")} (validation exact match {best if best is not None else float("nan"):.4f}).

| decoding (test split, {metrics["n_test"]:,} pairs) | exact match | BLEU | chrF |
|---|---|---|---|
| greedy | {greedy["exact_match"]:.4f} | {greedy["bleu"]:.2f} | {greedy["chrf"]:.2f} |
| beam search (width {metrics["beam_width"]}, length penalty {metrics.get("length_penalty", evaluate["length_penalty"])}) | {beam["exact_match"]:.4f} | {
        beam["bleu"]:.2f} | {beam["chrf"]:.2f} |

BLEU and chrF are sacrebleu's corpus scores (0-100); outputs and references are compared lower-cased, with words and
punctuation split by spaces. The attention switch is `train.translate.attention` (`bahdanau`, `luong`, `none`):
docs/RESULTS.md has the scores of each, from the same data and budget. Attention weights of the first test sentences
(rows: output words, columns: source words):

{figures}"""
    dataset = {
        "dataset_type": meta["source"],
        "dataset_name": meta["path"],
        "dataset_split": "test",
        "task_type": "translation",
        "task_name": "Machine translation",
    }
    results = [
        EvalResult(metric_type="bleu", metric_name="BLEU (beam search)", metric_value=beam["bleu"], **dataset),
        EvalResult(metric_type="chrf", metric_name="chrF (beam search)", metric_value=beam["chrf"], **dataset),
        EvalResult(metric_type="exact_match", metric_name="exact match (beam search)", metric_value=beam["exact_match"], **dataset),
    ]
    return text, results


def _longrange(
    metrics: Mapping[str, Any], meta: Mapping[str, Any], params: Mapping[str, Any], summary: Mapping[str, Any], extra: Mapping[str, Any]
) -> tuple[str, list[EvalResult]]:
    """The long-range problems: error per cell and length, the trivial baseline, gradient flow, clipping.

    ``metrics`` is metrics/longrange.json (the report stage); ``extra`` holds ``runs`` (each matrix
    entry's metrics file: steps, seconds) and ``exploding`` (metrics/longrange_exploding.json)."""
    train, prep = params["train"]["longrange"], params["prepare"]["longrange"]
    errors, baselines, solved = metrics["error"], metrics["baseline"], metrics["solved"]
    runs = {(r["problem"], r["cell"], str(r["length"])): r for r in extra.get("runs", [])}
    lengths = sorted({int(length) for cells in errors.values() for per_length in cells.values() for length in per_length})
    header = "| problem | cell | " + " | ".join(f"length {n}" for n in lengths) + " |"
    rows = [header, "|---|---|" + "---|" * len(lengths)]
    for problem, cells in errors.items():
        for cell, per_length in cells.items():
            entries = []
            for n in lengths:
                value = per_length.get(str(n))
                if value is None:
                    entries.append("")
                    continue
                run = runs.get((problem, cell, str(n)), {})
                steps = f" ({run['steps']:,} steps)" if "steps" in run else ""
                entries.append(f"{'**' if solved[problem][cell][str(n)] else ''}{value:.4f}{'**' if solved[problem][cell][str(n)] else ''}{steps}")
            rows.append(f"| {problem} | {CELL_LABELS.get(cell, cell)} | " + " | ".join(entries) + " |")
        # each length has its own test set: its baseline from any run at that length, else the report's (largest)
        per_length = {
            n: next((r["baseline"]["error"] for (p, _, k), r in runs.items() if p == problem and k == str(n) and "baseline" in r), None) for n in lengths
        }
        rows.append(
            f"| {problem} | trivial baseline | "
            + " | ".join(f"{per_length[n] if per_length[n] is not None else baselines[problem]:.4f}" for n in lengths)
            + " |"
        )
    seconds = sum(r.get("seconds", 0.0) for r in runs.values())
    explode = extra.get("exploding") or {}
    if explode:
        unclipped, clipped, e = explode["unclipped"], explode["clipped"], train["exploding"]
        fate = (
            f"without clipping the loss stops being finite after {unclipped['steps']} steps (largest finite gradient norm {unclipped['max_grad_norm']:.3g})"
            if unclipped["diverged"]
            else f"without clipping the run survives all {unclipped['steps']} steps (largest gradient norm {unclipped['max_grad_norm']:.3g})"
        )
        clipped_fate = (
            "also diverges"
            if clipped["diverged"]
            else f"stays finite for all {clipped['steps']} steps (mean loss of its last 20 steps {clipped['final_loss']:.4f})"
        )
        exploding_text = f"""**Exploding gradients.** An Elman {e["nonlinearity"]} cell of {e["hidden_size"]} units with
W_hh = {e["recurrent_scale"]:g} x identity (the IRNN of Le et al. 2015), trained with the hand-written BPTT of `pipeline/bptt.py`
and plain SGD (learning rate {e["lr"]}) on the adding problem of length {e["length"]}: the first gradient norm is
{explode["first_grad_norm"]:.3g}; {fate}; clipped to norm {e["clip"]:g}, the same start {clipped_fate}.
Clipping keeps the run alive; it does not by itself make the Elman cell learn the long-range sum.

![exploding gradients](../plots/longrange/exploding/exploding_gradients.png)
"""
    else:
        exploding_text = ""
    longest = max(lengths)
    figures = "".join(f"![gradient flow, {problem}](../plots/longrange/report/gradient_flow_{problem}.png)\n" for problem in errors)
    text = f"""## Long-range dependencies: why gated cells beat the Elman cell

- **Problems** (generated, `pipeline/data/longrange.py`): the adding problem (Hochreiter & Schmidhuber 1997: a value and a marker
  channel, the target is the sum of the two marked values, one marked in each half; the trivial baseline always predicts 1.0,
  MSE ~0.167) and the copy task ({prep["symbols"]} letters of {prep["alphabet"]} shown, then `length` blank steps, then all letters recalled; a memoryless
  guess is wrong {1 - 1 / prep["alphabet"]:.3f} of the time), at lengths {", ".join(str(n) for n in lengths)}.
- **Model:** one recurrent layer of {train["hidden_size"]} units ({train["backend"]} backend) read to the end, a linear readout of its last state;
  gate biases initialised `{train["gate_init"]}` (chrono: Tallec & Ollivier 2018, memory time scales up to the sequence length; the Elman cell has no gate).
- **Training:** a fresh seeded batch of {train["batch_size"]} sequences per step, Adam (learning rate {train["lr"]}), gradient-norm clip {train["grad_clip"]},
  at most {train["max_steps"]:,} steps, stopping once the validation error falls below {train["solved_mse"]} (adding) or
  {train["solved_error"]} (copy); fixed validation ({prep["val_size"]:,}) and test ({prep["test_size"]:,}) sequences;
  {len(runs)} runs, {seconds / 60:.1f} minutes of training in all.

Test error (adding: MSE; copy: fraction of letters recalled wrong); **bold**: solved ({"; ".join(f"{p}: {m}" for p, m in metrics["solved_means"].items())}):

{chr(10).join(rows)}

![error against length](../plots/longrange/report/error_vs_length.png)

**Gradient flow.** ||dL/dh_t|| of the loss at the last step, for every step t of a test batch at length {longest}, at initialisation
and after training (log scale). At initialisation the Elman cell's gradient shrinks by orders of magnitude going back in time
(to exactly 0 in float32), the gated cells' far less; after training the Elman cell may pass a gradient back (its weights grow)
and still fail, as on the copy task: a gradient that reaches the cue is not a memory that keeps it.

{figures}
{exploding_text}"""
    results = []
    for problem, cells in errors.items():
        for cell, per_length in cells.items():
            value = per_length.get(str(longest))
            if value is not None:
                results.append(
                    EvalResult(
                        metric_type="mse" if problem == "adding" else "error_rate",
                        metric_name=f"{problem}, length {longest}, {CELL_LABELS.get(cell, cell)}: test {'MSE' if problem == 'adding' else 'letter error'}",
                        metric_value=value,
                        dataset_type=f"{problem}-generated",  # the model-index groups results by dataset type
                        dataset_name=f"{problem} problem, length {longest}",
                        dataset_split="test",
                        task_type="other",
                        task_name="Long-range dependencies",
                    )
                )
    return text, results


SECTIONS = {"sentiment": _sentiment, "charlm": _charlm, "translate": _translate, "longrange": _longrange}


def render(
    params: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, Any]],
    metas: Mapping[str, Mapping[str, Any]],
    summaries: Mapping[str, Mapping[str, Any]],
    versions: Mapping[str, str],
    commit: str,
    extras: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The model card as Markdown with YAML front matter, for every task that has metrics."""
    texts, results = [], []
    for task, build in SECTIONS.items():
        if task in metrics:
            text, task_results = build(metrics[task], metas[task], params, summaries.get(task, {}), (extras or {}).get(task, {}))
            texts.append(text)
            results += task_results
    data = ModelCardData(
        language="en",
        license="mit",
        library_name="pytorch",
        model_name="rnnlab",
        tags=["rnn", "lstm", "gru", "pytorch-lightning", "educational"],
        metrics=sorted({r.metric_type for r in results}),
        eval_results=results or None,
    )
    return str(ModelCard.from_template(data, template_str=TEMPLATE, tasks=texts, versions=versions, commit=commit, seed=params["seed"]))
