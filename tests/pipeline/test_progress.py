"""The whole build's progress: k of N runs and the time left, counted across parallel runs."""

from pipeline.progress import progress_text, record_done


def test_the_time_left_is_the_pace_so_far_times_the_runs_left():
    assert progress_text(1, 4, 29.0) == "1 of 4 runs; about 87 s left"      # 29 s per run, 3 left
    assert progress_text(1, 4, 30.0) == "1 of 4 runs; about 2 min left"     # 90 s: minutes from there on
    assert progress_text(2, 26, 60.0) == "2 of 26 runs; about 12 min left"  # 30 s per run, 24 left: 720 s
    assert progress_text(1, 1000, 20.0) == "1 of 1000 runs; about 5.5 h left"
    assert progress_text(4, 4, 100.0) == "4 of 4 runs"
    assert progress_text(5, 4, 100.0) == "5 of 5 runs"                      # never more done than there are


def test_each_finished_run_counts_once_in_the_build_s_log(tmp_path):
    log = tmp_path / "progress.log"
    assert record_done(log, 3, start=100.0, now=110.0) == "1 of 3 runs; about 20 s left"
    assert record_done(log, 3, start=100.0, now=120.0) == "2 of 3 runs; about 10 s left"
    assert record_done(log, 3, start=100.0, now=130.0) == "3 of 3 runs"
    assert log.read_text() == "done\n" * 3


def _count_many(args):
    log, n = args
    return [int(record_done(log, 10 ** 6, start=0.0, now=1.0).split(" of ")[0]) for _ in range(n)]


def test_runs_ending_together_each_get_a_count_of_their_own(tmp_path):
    """Four processes record 100 ends each at once: the counts are 1 to 400, none shared (make -j)."""
    from multiprocessing import get_context

    with get_context("fork").Pool(4) as pool:
        counts = [c for part in pool.map(_count_many, [(str(tmp_path / "p.log"), 100)] * 4) for c in part]
    assert sorted(counts) == list(range(1, 401))
