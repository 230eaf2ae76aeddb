"""The science of the DD2424 Assignment 1 report: what the notebooks call.

Data flow, one way::

    cifar10 (read and verify the batches) -> data (splits, variants, cache)
        -> model, gradcheck -> train (its epoch: model.numpy_epoch, or compiled_epoch; reference: the textbook loop)
        -> results (files) -> figures, audit -> report (tables for the report notebook)

with ``params`` and ``settings`` (the runs: settings, variants, seeds), ``original``
(the original report's printed numbers and claims), ``files`` (atomic writes),
``errors``, ``paths`` and ``blas`` beside them. Nothing here knows about make,
papermill or rendering: that machinery is the ``pipeline`` package, which
imports this one, never the reverse. Importing this module imports nothing heavy.
"""
