"""The pins: requirements.txt and environment.yml must agree, and every pin is exact."""

import re

from helpers.paths import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)$")


def requirement_pins(text):
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        assert m, f"requirements.txt: {line!r} is not pinned with =="
        pins[m.group(1).lower()] = m.group(2)
    return pins


def environment_pins(text):
    """The pip section of environment.yml, read without a YAML library."""
    pins, in_pip = {}, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "- pip:":
            in_pip = True
            continue
        if in_pip and stripped.startswith("- "):
            if stripped[2:].strip() == "-e .":  # the project itself
                pins["-e ."] = ""
                continue
            m = PIN.match(stripped[2:].strip())
            assert m, f"environment.yml: {stripped!r} is not pinned with =="
            pins[m.group(1).lower()] = m.group(2)
        elif in_pip and stripped and not stripped.startswith("#"):
            in_pip = False
    return pins


def test_requirements_and_environment_agree():
    req = requirement_pins((ROOT / "requirements.txt").read_text())
    env = environment_pins((ROOT / "environment.yml").read_text())
    assert req, "no pins found in requirements.txt"
    assert env.pop("-e .", None) == "", "environment.yml must install the project itself (- -e .)"
    assert req == env


def test_the_parsers_see_a_disagreement():
    assert requirement_pins("numpy==1.0\n") != environment_pins("dependencies:\n  - pip:\n      - numpy==2.0\n")


def test_required_packages_are_pinned():
    req = requirement_pins((ROOT / "requirements.txt").read_text())
    for name in ("numpy", "matplotlib", "pandas", "nbconvert", "papermill", "ipykernel", "pytest"):
        assert name in req


def test_installed_versions_match_the_pins():
    from importlib import metadata

    req = requirement_pins((ROOT / "requirements.txt").read_text())
    for name, version in req.items():
        assert metadata.version(name) == version, name


def test_the_project_kernel_is_the_venvs_and_its_spec_is_untouched():
    from jupyter_client.kernelspec import KernelSpecManager

    from pipeline.execute import KERNEL_ARGUMENTS, KERNEL_NAME

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert spec.argv[0].startswith(str(ROOT / ".venv"))
    # the kernel's options are passed when it starts (nbclient's extra_arguments), not written into kernel.json
    assert not set(KERNEL_ARGUMENTS) & set(spec.argv)


def test_the_project_is_installed_not_put_on_the_path_by_hand():
    from importlib import metadata

    import helpers
    import pipeline

    assert metadata.version("dd2424-a1-report")
    assert helpers.__file__.startswith(str(ROOT)) and pipeline.__file__.startswith(str(ROOT))
    site = [p for p in (ROOT / ".venv" / "lib").glob("python*/site-packages/*.pth")]
    assert not any(p.read_text().strip() == str(ROOT) for p in site), "a hand-written .pth file puts the project on the path"


def test_tests_that_share_a_tiny_build_run_on_one_worker(tmp_path):
    """`make test` runs pytest-xdist with ``--dist loadgroup``; tests/conftest.py groups the tests of each shared tiny
    build so that one worker builds it once. With pytest 9.2 and pytest-xdist 3.8 the groups are silently ignored
    (each worker builds each project again): this fails on such a pair of versions, or without the grouping."""
    import os
    import subprocess
    import sys

    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_collection_modifyitems\n")
    (tmp_path / "test_shared.py").write_text(
        "import os, time, pytest\n"
        "@pytest.fixture(scope='session')\n"
        "def built_once():\n    with open('builds.log', 'a') as f:\n        f.write(os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_reads(built_once, i):\n    time.sleep(0.1)\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_other(i):\n    time.sleep(0.1)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_ADDOPTS": ""}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
                        str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)
    assert r.returncode == 0 and "12 passed" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert len((tmp_path / "builds.log").read_text().split()) == 1          # built once, by one worker
