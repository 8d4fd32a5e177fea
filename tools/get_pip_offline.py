"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test creates its virtual environments without pip and then runs
``get-pip.py --disable-pip-version-check pip==X --no-setuptools --no-wheel``, downloading the script from a host
that this network cannot reach. ansible-test first looks for ``~/.ansible/test/cache/get_pip_<X>.py``; `make setup`
copies this file there. It runs pip from the wheel bundled with the interpreter's ``ensurepip`` and lets that pip
install the requested version from the package index.
"""

import glob
import os
import sys

# get-pip.py's own switches; pip itself does not know them.
GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def bundled_pip_wheel():
    import ensurepip

    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    wheels = sorted(glob.glob(os.path.join(bundled, "pip-*.whl")))
    if not wheels:
        sys.exit(f"get_pip_offline: this Python has no bundled pip wheel in {bundled}")
    return wheels[-1]


def main():
    sys.path.insert(0, bundled_pip_wheel())
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
    return pip_main(["install", "--no-cache-dir", *args])


if __name__ == "__main__":
    sys.exit(main())
