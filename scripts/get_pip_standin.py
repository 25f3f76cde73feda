"""Offline stand-in for ansible-test's get-pip bootstrap script (copied to ~/.ansible/test/cache/).

ansible-test downloads a get-pip script from its own CI host to put pip into the virtual
environments it makes; that host is out of reach here. This script gives the venv pip from
the interpreter's bundled wheel (ensurepip), then installs the pinned versions asked for
from the configured package index, as the real script would.
"""

import subprocess
import sys

# In a child process: ensurepip blanks the pip configuration (PIP_CONFIG_FILE) of its caller.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
if any(not arg.startswith("-") for arg in args):
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
