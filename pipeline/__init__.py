"""The machinery that runs ``make report``: it imports :mod:`helpers`, never the reverse.

* ``download``, ``extract``: obtain the CIFAR-10 archive and extract it safely;
* ``rules``, ``deps``: the Makefile rules of the runs and each notebook's helper dependencies;
* ``execute``, ``progress``: run a notebook with papermill, progress on the user's terminal;
* ``lock``: one build at a time in a checkout;
* ``render``, ``pdf``: the HTML report and its PDF; ``check``, ``layout_check``: checks of it; ``browser``:
  Chromium for the PDF and the page checks;
* ``cli``: ``python -m pipeline COMMAND``, what the Makefile calls.

Measuring the project (the benchmark, where a build's time went, its peak memory, the mutation score) is
not building it: that lives in ``bench/``.
"""
