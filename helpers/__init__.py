"""Helper package for the DD2424 Assignment 1 report.

Data flows one way: ``download`` / ``archive`` (obtain and verify CIFAR-10) ->
``dataset`` (split, normalise) -> ``model`` / ``gradcheck`` -> ``train`` ->
``results`` (files) -> ``figures`` / ``report`` -> ``render`` (HTML).
This module imports nothing heavy, so ``python -m helpers rules`` runs with the
standard library alone.
"""
