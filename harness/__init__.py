"""Sample-GAN Lab: the harness that imports audio, trains, evaluates, tracks, runs studies and reports.

One subpackage per stage. Data flows one way, and a package imports only the packages
listed before it (and `models`, which imports nothing from here):

    common      signals, host facts, quiet imports, file locks and atomic publish,
                the Jinja2 environment of the HTML templates
    data        audio decoding, the dataset format, importing recordings, the built-in corpus,
                the real audio a run's evaluations draw
    evaluation  collapse diagnostics, quality, music structure, training dynamics, likelihood
    training    the training events, a run's schedule, the trainer, generation, the speed
                benchmarks
    tracking    the MLflow store and its SQLite database, a run's logged model (MLflow
                pyfunc), the run page and its figures
    runs        what a command does to a run: train (and resume), generate, evaluate again
    study       study specs, the plan, prepared data, Optuna storage and queue, the launcher
                and its workers
    report      the ablation report: reading a study, statistics, sections, figures, the
                document
    ui          the MLflow UI and Optuna dashboard servers behind `samplegan ui`
    cli         the `samplegan` command groups, thin: they parse options and call the above

Why evaluation sits below training, not after it: the trainer evaluates while it
trains (collapse diagnostics, quality, likelihood at every evaluation, and the
pruner's verdict comes from them), so training must import evaluation; evaluation
itself is pure functions over arrays and audio files that know nothing of a trainer,
and `samplegan diagnose` runs them on any WAV file. With evaluation after training
the trainer would import upward.

Why runs sits between tracking and study: a command on a run (`samplegan train`, `generate`,
`evaluate`) drives training, evaluation and the MLflow store, so it imports them; a study
trial is such a run (`runs.train.tracked_training` with a `TrainRequest`), so study imports
runs. Tracking itself knows nothing of commands: it keeps the store, the logged model and
what a run page shows.

Timing code has two homes in the package, for two questions: `training.speed` (`samplegan
bench`) measures how fast generation and training steps run at fixed sizes, and holds the
timing primitive; `study.calibration` times a study's own configurations with it to predict
the study's duration (`samplegan study plan`). `benchmarks/` is outside the package: scripts,
run by hand and by no test, that call the package's functions to time the rest (import,
diagnostics, music metrics, tracking overhead, workers sharing cores).

`tests/test_layers.py` parses every module's imports and fails on an upward one.
"""

__version__ = "0.1.0"
