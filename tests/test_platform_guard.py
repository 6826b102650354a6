"""platform/ is a plain folder: `import platform` must stay the standard library's module."""

import pathlib
import subprocess
import sys
import sysconfig

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_platform_is_the_standard_library_from_the_repo_root():
    out = subprocess.run(
        [sys.executable, "-c", "import platform, sys; print(platform.__file__); print(platform.python_version())"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert pathlib.Path(out[0]).resolve().parent == stdlib
    assert out[1] == sys.version.split()[0]


def test_platform_folder_is_not_a_package():
    assert not (REPO / "platform" / "__init__.py").exists()


def test_host_packages_import_from_the_platform_folder():
    import config
    import console

    assert pathlib.Path(config.__file__).resolve().parent == REPO / "platform" / "config"
    assert pathlib.Path(console.__file__).resolve().parent == REPO / "platform" / "console"
