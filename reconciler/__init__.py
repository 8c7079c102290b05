"""reconciler: GitOps for AWS Organizations and cross-account access."""

from importlib import metadata

try:
    __version__ = metadata.version("reconciler")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
