"""BLAS threads: one per run, for bitwise-reproducible numbers."""


def single_threaded_blas():
    """A context in which BLAS runs on one thread.

    OpenBLAS splits a matrix product differently for different thread counts,
    which changes the last bits of the result. Training and the gradient check
    run on one BLAS thread so that a run gives bitwise-identical numbers
    whatever ``make -jN`` or the machine's BLAS settings are (the training
    epochs themselves run in the compiled epoch of :mod:`helpers.compiled_epoch`; BLAS
    evaluates the validation and test sets).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
