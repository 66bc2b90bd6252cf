"""The package installs, as a user installs it, into a fresh virtual environment (pip's cache keeps it quick)."""
import json
import os
import shutil
import subprocess
import sys

KIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = """
import importlib.metadata, json, os, hyperpod_local
plugins = {e.name: e.value for e in importlib.metadata.entry_points(group="pytest11")}
folder = os.path.dirname(hyperpod_local.__file__)
print(json.dumps({"version": hyperpod_local.__version__, "folder": folder, "plugins": plugins,
                  "typed": os.path.exists(os.path.join(folder, "py.typed"))}))
"""


def test_pip_install_of_the_folder_into_a_fresh_venv_gives_the_package_and_its_pytest_plugin(tmp_path):
    # A copy of the folder, so that the build's by-products (build/, *.egg-info) stay out of the repository.
    source = tmp_path / "python"
    shutil.copytree(KIT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              f"{source}[pytest]"], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    check = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    found = json.loads(check.stdout)
    assert found["version"] == "0.1.0" and found["typed"] is True
    assert found["folder"].startswith(str(venv)), found  # installed into the venv, not used from the source
    assert found["plugins"]["hyperpod_local"] == "hyperpod_local.plugin"
    help_text = subprocess.run([python, "-m", "pytest", "--help"], capture_output=True, text=True, timeout=120,
                               cwd=tmp_path).stdout
    for option in ("--hyperpod-local-bin", "--hyperpod-local-url", "--hyperpod-local-keep-logs"):
        assert option in help_text
    assert subprocess.run([python, "-m", "pip", "check"], capture_output=True, timeout=120).returncode == 0
