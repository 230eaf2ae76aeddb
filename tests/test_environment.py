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
