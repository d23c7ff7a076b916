"""Batch evaluation of the assistant against curated question sets (see evals/README.md).

    python -c "from evals.runner import main; main([])"        # every default set
    python -c "from evals.runner import main; main(['--set', 'facts'])"

Only names exported by the `qa` package are used here (the public API); `bench_scale.py`
is the one exception, because it benchmarks internals.
"""
